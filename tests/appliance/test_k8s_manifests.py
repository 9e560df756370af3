"""deploy/k8s: each overlay renders with a current kubectl, matches the Kubernetes schemas,
passes checkov, and runs the contract it carries the way the pod would."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from ci.service_topology import Topology

from onex_host.cli.run import standby_requested
from onex_host.core.file_registry import load_host
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from tests.appliance.crd_schemas import CRD_FILES, crd_schema
from tests.appliance.host_contract import assert_host_would_start
from tests.appliance.k8s_render import (
    K8S_DIR,
    OVERLAYS,
    SYNC_SCRIPT,
    OverlayRenders,
    Render,
    base_contract_files,
    checkov_skip_annotations,
    copied_files,
    generator_files,
    host_container,
    materialise_contract_volume,
    pod_environment,
    render_edited_overlay,
)
from tests.appliance.tooling import REPOSITORY, explain, run_tool, venv_tool

pytestmark = pytest.mark.appliance

# Custom resources have no schema in kubernetes-validate: their upstream CRDs validate them (and promtool the
# PrometheusRule's rules, in tests/observability).
CUSTOM_KINDS = set(CRD_FILES)
MIN_SKIP_REASON = 40
IMAGE_REPOSITORY = "ghcr.io/onex/onex-host"
# The only tags deployed: one per commit, published once and never re-pushed (ci/dagger_pipeline.py publish).
PER_COMMIT_TAG = re.compile(r"^sha-[0-9a-f]{7,40}$")
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
KEDA_PAUSED = "autoscaling.keda.sh/paused-replicas"
SHADOW_MODE_FROM_ENV = (
    "the overlays choose the bus mode with ONEX_BUS_MODE (endpoints ConfigMap), so the runtime contract's "
    'event_bus.config must say  mode: "${ONEX_BUS_MODE:-primary}";  otherwise the shadow overlay runs a '
    "second primary that consumes the primary's group and executes writes"
)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_matches_current_kubernetes_schemas(overlay_renders: OverlayRenders, overlay: str) -> None:
    version = kubernetes_validate.latest_version()
    problems: list[str] = []
    for resource in overlay_renders.render(overlay).resources:
        if (resource["apiVersion"], resource["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as exc:
            problems.append(f"{resource['kind']}/{resource['metadata']['name']}: {exc}")
    assert problems == [], f"against Kubernetes {version}:\n" + "\n".join(problems)


def _crd_problems(request: pytest.FixtureRequest, resources: tuple[dict[str, Any], ...]) -> list[str]:
    problems: list[str] = []
    custom = [r for r in resources if (r["apiVersion"], r["kind"]) in CUSTOM_KINDS]
    for resource in custom:
        schema = crd_schema(request.config, resource["apiVersion"], resource["kind"])
        validator = jsonschema.Draft7Validator(schema)
        for error in validator.iter_errors(resource):
            where = "/".join(str(part) for part in error.absolute_path)
            problems.append(f"{resource['kind']}/{resource['metadata']['name']}: {where}: {error.message}")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_match_their_upstream_crds_with_unknown_fields_refused(
    request: pytest.FixtureRequest, overlay_renders: OverlayRenders, overlay: str
) -> None:
    resources = overlay_renders.render(overlay).resources
    assert {(r["apiVersion"], r["kind"]) for r in resources} & CUSTOM_KINDS, "the render holds no custom resource"
    assert _crd_problems(request, resources) == []


def test_argocd_objects_match_their_upstream_crds_with_unknown_fields_refused(
    request: pytest.FixtureRequest, overlay_renders: OverlayRenders
) -> None:
    resources = overlay_renders.argocd().resources
    assert {kind for _, kind in {(r["apiVersion"], r["kind"]) for r in resources}} == {"Application", "AppProject"}
    assert _crd_problems(request, resources) == []


def test_the_crd_check_refuses_an_unknown_field(
    request: pytest.FixtureRequest, overlay_renders: OverlayRenders
) -> None:
    """The strict schemas are not vacuous: a misplaced field (KEDA's minReplicaCount under spec.advanced) fails."""
    scaled = dict(overlay_renders.render("production").one("ScaledObject"))
    scaled["spec"] = {**scaled["spec"], "advanced": {**scaled["spec"]["advanced"], "minReplicaCount": 1}}
    (problem,) = _crd_problems(request, (scaled,))
    assert "minReplicaCount" in problem


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_with_the_default_load_restrictor(request: pytest.FixtureRequest, overlay: str) -> None:
    """`kubectl apply -k` as typed, and Argo CD without --load-restrictor LoadRestrictionsNone in argocd-cm."""
    kubectl = venv_tool(request.config, "kubectl")
    directory = K8S_DIR / "overlays" / overlay
    result = run_tool([kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsRootOnly", str(directory)])
    assert result.returncode == 0, explain(result)
    for path in [*base_contract_files(), *copied_files()]:
        assert path.is_relative_to(K8S_DIR), f"{path} is outside deploy/k8s"


def test_files_copied_into_the_kustomize_tree_equal_their_sources() -> None:
    copies = copied_files()
    differing = [
        str(copy.relative_to(REPOSITORY))
        for copy, source in copies.items()
        if not copy.is_file() or copy.read_bytes() != source.read_bytes()
    ]
    assert differing == [], f"out of date (run `{SYNC_SCRIPT}`): {differing}"
    migrations = {path.name for path in (REPOSITORY / "migrations" / "postgres").iterdir()}
    production = K8S_DIR / "overlays" / "production"
    shipped = {path.name for path in generator_files(production, "onex-host-migrations")}
    assert shipped == migrations, f"the migrations ConfigMap must carry every file (run `{SYNC_SCRIPT}`)"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_creates_its_namespace(overlay_renders: OverlayRenders, overlay: str) -> None:
    render = overlay_renders.render(overlay)
    (namespace,) = render.of_kind("Namespace")
    namespaced = {r["metadata"]["namespace"] for r in render.resources if r["kind"] != "Namespace"}
    assert namespaced == {namespace["metadata"]["name"]}
    assert "Prune=false" in namespace["metadata"]["annotations"]["argocd.argoproj.io/sync-options"], (
        "deleting the Application must not delete the namespace and the Secret made in it by hand"
    )


def test_production_ships_paused_and_is_synced_by_hand(overlay_renders: OverlayRenders) -> None:
    """Applying deploy/k8s/argocd, or syncing production, starts no consumer before the cut-over."""
    render = overlay_renders.render("production")
    assert render.one("Deployment")["spec"]["replicas"] == 0
    assert render.one("ScaledObject")["metadata"]["annotations"][KEDA_PAUSED] == "0"
    applications = {app["metadata"]["name"]: app for app in overlay_renders.argocd().of_kind("Application")}
    production = applications["onex-host-production"]["spec"]
    assert "automated" not in production.get("syncPolicy", {}), "production must not sync on its own"
    for application in applications.values():
        spec = application["spec"]
        assert "RespectIgnoreDifferences=true" in spec["syncPolicy"]["syncOptions"], "a sync would reset KEDA's count"
        assert {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]} in spec["ignoreDifferences"]


STANDBY_STEP = ("- path: paused.yaml", "- path: standby.yaml")
"""The standby pull request of docs/migration.md, step 4: the pause (0 replicas) becomes one standby host."""


def test_production_as_shipped_has_no_standby_and_no_admin_endpoint(overlay_renders: OverlayRenders) -> None:
    environment = pod_environment(overlay_renders.render("production"))
    assert not standby_requested(None, environment)
    assert "ONEX_ADMIN_TOKEN" not in environment, "regular primaries serve no admin endpoint"


def test_the_standby_step_runs_one_host_that_can_be_promoted_and_nothing_else(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Swapping paused.yaml for standby.yaml: one replica, started in standby, with an admin token from a Secret."""
    render = render_edited_overlay(request.config, tmp_path, "production", *STANDBY_STEP)
    assert render.one("ScaledObject")["metadata"]["annotations"][KEDA_PAUSED] == "1"
    assert render.one("Deployment")["spec"]["replicas"] == 0, "KEDA, not the manifest, starts the one standby"
    container = host_container(render.one("Deployment"))
    variables = {v["name"]: v for v in container["env"]}
    assert variables["ONEX_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "onex-host-admin",
        "key": "admin-token",
    }
    environment = pod_environment(render)
    assert standby_requested(None, environment), "the pod must start in standby: it joins no group until promoted"
    assert environment["ONEX_BUS_MODE"] == "primary"
    contract = materialise_contract_volume(render, tmp_path / "contracts") / "runtime" / "infra_runtime_host.yaml"
    assert_host_would_start(request.config, contract, environment, container["args"], "production standby step")
    health = load_host(contract, environment).contract.health_endpoint
    assert health.enabled
    assert health.admin_token, "a standby without an admin token could never be promoted"
    problems = []
    for resource in render.resources:
        if (resource["apiVersion"], resource["kind"]) not in CUSTOM_KINDS:
            try:
                kubernetes_validate.validate(resource, kubernetes_validate.latest_version(), strict=True)
            except kubernetes_validate.ValidationError as exc:
                problems.append(f"{resource['kind']}/{resource['metadata']['name']}: {exc}")
    assert problems + _crd_problems(request, render.resources) == []


def _image(render: Render) -> str:
    image: str = host_container(render.one("Deployment"))["image"]
    return image


def test_images_are_per_commit_and_production_pins_a_digest(overlay_renders: OverlayRenders) -> None:
    shadow = _image(overlay_renders.render("shadow"))
    production = _image(overlay_renders.render("production"))
    repository, _, tag = shadow.partition(":")
    assert repository == IMAGE_REPOSITORY
    assert PER_COMMIT_TAG.match(tag), f"the shadow must run one commit's tag, not {tag!r}"
    name, _, digest = production.partition("@")
    assert name.partition(":")[0] == IMAGE_REPOSITORY
    assert PER_COMMIT_TAG.match(name.partition(":")[2]), name
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), f"production must pin a digest, not {production!r}"
    assert shadow != production
    if digest == PLACEHOLDER_DIGEST:
        scaled = overlay_renders.render("production").one("ScaledObject")
        assert scaled["metadata"]["annotations"].get(KEDA_PAUSED) == "0", (
            "the placeholder digest may only ship while production is paused; the promotion replaces both"
        )


def test_pod_disruption_budget_lets_a_single_replica_be_drained(overlay_renders: OverlayRenders) -> None:
    for overlay in OVERLAYS:
        spec = overlay_renders.render(overlay).one("PodDisruptionBudget")["spec"]
        assert spec.get("maxUnavailable") == 1, overlay
        assert "minAvailable" not in spec, f"{overlay}: minAvailable: 1 blocks every drain at one replica"


@pytest.mark.parametrize(("overlay", "policy"), [("production", "none"), ("shadow", "latest")])
def test_a_new_consumer_group_never_replays_the_retained_commands(
    overlay_renders: OverlayRenders, tmp_path: Path, overlay: str, policy: str
) -> None:
    """production waits for `offsets handover`; the shadow's own group starts at the end."""
    assert _bus(overlay_renders.render(overlay), tmp_path).auto_offset_reset == policy


def test_production_applies_the_repository_migrations_with_its_own_credentials(
    overlay_renders: OverlayRenders, topology: Topology
) -> None:
    render = overlay_renders.render("production")
    (job,) = render.of_kind("Job")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == topology.services["postgres"].image
    assert container["command"] == ["sh", "/migrations/apply.sh", "/migrations"]
    (volume,) = pod["volumes"]
    config_map = render.config_map("onex-host-migrations")
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    repository = REPOSITORY / "migrations" / "postgres"
    assert config_map["data"] == {path.name: path.read_text(encoding="utf-8") for path in repository.iterdir()}
    secrets = {v["valueFrom"]["secretKeyRef"]["name"] for v in container["env"] if "secretKeyRef" in v["valueFrom"]}
    assert secrets == {"onex-host-credentials"}
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert render.one("NetworkPolicy")["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    for selector in (
        render.one("Service")["spec"]["selector"],
        render.one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        render.one("Deployment")["spec"]["selector"]["matchLabels"],
    ):
        assert not selector.items() <= labels.items(), "the migration pod must not count as a host"
    assert overlay_renders.render("shadow").of_kind("Job") == [], "the shadow's credentials are read-only"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkov_finds_nothing(overlay_renders: OverlayRenders, overlay: str) -> None:
    results = overlay_renders.checkov_results()
    failed = [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for check in results["failed_checks"]
        if Path(check["file_path"]).stem == overlay
    ]
    passed = [check for check in results["passed_checks"] if Path(check["file_path"]).stem == overlay]
    assert failed == [], "\n".join(failed)
    assert len(passed) > 50, "checkov ran almost no kubernetes checks: is the framework selection right?"


def test_every_checkov_skip_is_justified_in_place_and_still_needed(overlay_renders: OverlayRenders) -> None:
    annotated: set[tuple[str, str]] = set()
    for overlay in OVERLAYS:
        for resource, rule, reason in checkov_skip_annotations(overlay_renders.render(overlay).resources):
            assert rule.startswith(("CKV_", "CKV2_")), f"{overlay} {resource}: {rule!r} is not a checkov rule id"
            assert len(reason.strip()) >= MIN_SKIP_REASON, f"{overlay} {resource}: skip of {rule} needs a reason"
            annotated.add((overlay, rule))
    results = overlay_renders.checkov_results()
    skipped = {(Path(check["file_path"]).stem, check["check_id"]) for check in results["skipped_checks"]}
    assert skipped == annotated, "a skip annotation no longer matches a check checkov would fail (remove it)"


def test_argocd_objects_render_and_point_at_the_overlays(overlay_renders: OverlayRenders) -> None:
    argocd = overlay_renders.argocd()
    (project,) = argocd.of_kind("AppProject")
    applications = {app["metadata"]["name"]: app for app in argocd.of_kind("Application")}
    assert set(applications) == {f"onex-host-{overlay}" for overlay in OVERLAYS}
    allowed = {(kind["group"], kind["kind"]) for kind in project["spec"]["namespaceResourceWhitelist"]}
    destinations = {destination["namespace"] for destination in project["spec"]["destinations"]}
    for overlay in OVERLAYS:
        spec = applications[f"onex-host-{overlay}"]["spec"]
        assert spec["project"] == project["metadata"]["name"]
        assert spec["source"]["repoURL"] in project["spec"]["sourceRepos"]
        assert (REPOSITORY / spec["source"]["path"]) == K8S_DIR / "overlays" / overlay
        render = overlay_renders.render(overlay)
        namespaces = {r["metadata"]["namespace"] for r in render.resources if r["kind"] != "Namespace"}
        assert namespaces == {spec["destination"]["namespace"]}
        assert [ns["metadata"]["name"] for ns in render.of_kind("Namespace")] == [spec["destination"]["namespace"]]
        assert namespaces <= destinations
        rendered_kinds = {(r["apiVersion"].rpartition("/")[0], r["kind"]) for r in render.resources}
        cluster = {(kind["group"], kind["kind"]) for kind in project["spec"]["clusterResourceWhitelist"]}
        assert rendered_kinds <= allowed | cluster, f"{overlay} renders kinds the AppProject does not allow"


def test_production_moves_only_by_a_reviewed_revision_while_shadow_follows_main(
    overlay_renders: OverlayRenders,
) -> None:
    applications = {app["metadata"]["name"]: app for app in overlay_renders.argocd().of_kind("Application")}
    assert applications["onex-host-shadow"]["spec"]["source"]["targetRevision"] == "main"
    production = applications["onex-host-production"]["spec"]["source"]["targetRevision"]
    assert production not in {"main", "HEAD", ""}, "production must be pinned to a reviewed tag or commit"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployment_probes_resources_and_hardening(
    overlay_renders: OverlayRenders, topology: Topology, overlay: str
) -> None:
    deployment = overlay_renders.render(overlay).one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = host_container(deployment)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    host = topology.runtime_host
    assert ports == dict(host.ports)
    for probe_name, declared in (("readinessProbe", host.readiness), ("livenessProbe", host.liveness)):
        assert declared is not None
        assert declared.http is not None
        probe = container[probe_name]["httpGet"]
        assert (probe["path"], ports[probe["port"]]) == (declared.http.path, declared.http.port), probe_name
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert deployment["spec"]["replicas"] == 0, "no consumer before KEDA acts; the ScaledObject owns the count"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pod_would_start_on_the_contract_in_its_configmap(
    overlay_renders: OverlayRenders, tmp_path: Path, overlay: str, request: pytest.FixtureRequest
) -> None:
    """The ConfigMap laid out as the kubelet mounts it, loaded with the pod's env and arguments."""
    render = overlay_renders.render(overlay)
    root = materialise_contract_volume(render, tmp_path / "contracts")
    environment = pod_environment(render)
    contract = root / Path(environment["ONEX_CONTRACT"]).relative_to("/etc/onex/contracts")
    container = host_container(render.one("Deployment"))
    assert_host_would_start(request.config, contract, environment, container["args"], f"deploy/k8s {overlay}")
    loaded = load_host(contract, environment)
    grace = render.one("Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > loaded.contract.shutdown_timeout_seconds, "SIGKILL would cut the drain short"


def _bus(render: Render, tmp_path: Path) -> KafkaBusConfig:
    root = materialise_contract_volume(render, tmp_path / "contracts")
    environment = pod_environment(render)
    contract = root / Path(environment["ONEX_CONTRACT"]).relative_to("/etc/onex/contracts")
    loaded = load_host(contract, environment)
    assert loaded.contract.event_bus.type == "kafka"
    return KafkaBusConfig.model_validate(loaded.contract.event_bus.config)


@pytest.mark.parametrize(("overlay", "mode"), [("production", "primary"), ("shadow", "shadow")])
def test_scaledobject_follows_the_consumer_group_the_pod_uses(
    overlay_renders: OverlayRenders, topology: Topology, tmp_path: Path, overlay: str, mode: str
) -> None:
    render = overlay_renders.render(overlay)
    bus = _bus(render, tmp_path)
    assert bus.mode == mode, SHADOW_MODE_FROM_ENV
    scaled = render.one("ScaledObject")["spec"]
    assert scaled["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": render.one("Deployment")["metadata"]["name"],
    }
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == bus.effective_consumer_group
    assert trigger["metadata"]["topic"] == bus.command_topic
    partitions = int(topology.services["kafka"].env["KAFKA_NUM_PARTITIONS"])
    assert scaled["maxReplicaCount"] == partitions, "replicas beyond the partition count would sit idle"
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"]


def test_shadow_never_shares_a_consumer_group_or_reply_topic_with_production(
    overlay_renders: OverlayRenders, tmp_path: Path
) -> None:
    production = _bus(overlay_renders.render("production"), tmp_path / "production")
    shadow = _bus(overlay_renders.render("shadow"), tmp_path / "shadow")
    assert shadow.mode == "shadow", SHADOW_MODE_FROM_ENV
    assert shadow.command_topic == production.command_topic, "the shadow must see the same commands"
    assert shadow.effective_consumer_group != production.effective_consumer_group
    assert shadow.reply_topic != production.reply_topic
    assert shadow.effective_dead_letter_topic != production.effective_dead_letter_topic


def test_shadow_carries_only_read_only_credentials(overlay_renders: OverlayRenders) -> None:
    def secrets(render: Render) -> set[str]:
        container = host_container(render.one("Deployment"))
        names = {v["valueFrom"]["secretKeyRef"]["name"] for v in container.get("env", []) if "valueFrom" in v}
        names |= {s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s}
        return names

    shadow = overlay_renders.render("shadow")
    assert secrets(shadow) == {"onex-host-shadow-readonly"}
    assert secrets(shadow).isdisjoint(secrets(overlay_renders.render("production")))
    assert shadow.of_kind("Secret") == [], "credentials are never rendered from git"


def test_shadow_selects_and_names_only_its_own_objects(overlay_renders: OverlayRenders) -> None:
    """Nothing the shadow overlay renders can match, replace or prune a legacy object."""
    shadow = overlay_renders.render("shadow")
    instance = {"app.kubernetes.io/instance": "onex-host-shadow"}
    for resource in shadow.resources:
        where = f"{resource['kind']}/{resource['metadata']['name']}"
        if resource["kind"] == "Namespace":
            assert resource["metadata"]["name"] == "onex-shadow", where
            continue
        assert resource["metadata"]["namespace"] == "onex-shadow", where
        assert "-shadow" in resource["metadata"]["name"], where
        assert instance.items() <= resource["metadata"]["labels"].items(), where
    selectors: list[dict[str, Any]] = [
        shadow.one("Deployment")["spec"]["selector"]["matchLabels"],
        shadow.one("Service")["spec"]["selector"],
        shadow.one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        shadow.one("NetworkPolicy")["spec"]["podSelector"]["matchLabels"],
    ]
    for selector in selectors:
        assert instance.items() <= selector.items(), selector


def test_configmap_carries_every_contract_the_runtime_contract_names(overlay_renders: OverlayRenders) -> None:
    render = overlay_renders.render("production")
    deployment = render.one("Deployment")
    (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "contracts"]
    keys = set(render.config_map("onex-host-contracts")["data"])
    projected = {item["key"] for item in volume["configMap"]["items"]}
    assert projected == keys, "every ConfigMap key must be projected into the volume, and only those"
    assert keys == {path.name for path in base_contract_files()}
    runtime = yaml.safe_load((REPOSITORY / "contracts" / "runtime" / "infra_runtime_host.yaml").read_text())
    named = {Path(node["contract_path"]).name for node in runtime.get("nodes", [])}
    assert named <= keys, f"node contracts missing from deploy/k8s/base: {sorted(named - keys)}"


def test_the_docs_create_each_namespace_before_they_put_a_secret_in_it() -> None:
    namespace_files = {
        yaml.safe_load(path.read_text(encoding="utf-8"))["metadata"]["name"]: str(path.relative_to(REPOSITORY))
        for path in (K8S_DIR / "overlays").glob("*/namespace.yaml")
    }
    assert set(namespace_files) == {"onex", "onex-shadow"}
    for doc in ("docs/appliance.md", "docs/migration.md"):
        text = (REPOSITORY / doc).read_text(encoding="utf-8")
        for match in re.finditer(r"kubectl -n (\S+) create secret", text):
            namespace = match.group(1)
            created = text.find(namespace_files[namespace])
            assert 0 <= created < match.start(), f"{doc}: `{match.group(0)}` before {namespace_files[namespace]}"


def test_readiness_is_documented_as_joined_and_able_to_consume_not_holding_partitions() -> None:
    """A replica beyond the partition count holds none; if Ready required one, a surge rollout would stall."""
    deployment = (K8S_DIR / "base" / "deployment.yaml").read_text(encoding="utf-8")
    assert "joined the consumer group and able to consume" in deployment
    for doc in ("docs/appliance.md", "docs/migration.md"):
        text = " ".join((REPOSITORY / doc).read_text(encoding="utf-8").split())
        assert not re.search(r"ready\W[^.]{0,80}(has|holds) its partitions", text, re.IGNORECASE), doc
        assert "joined" in text, doc


def test_gitops_ci_validates_the_shipped_contract_without_secrets(request: pytest.FixtureRequest) -> None:
    """`onex-host validate --allow-unset` on the copy the base ships, with an empty environment."""
    shipped = K8S_DIR / "base" / "contracts" / "runtime" / "infra_runtime_host.yaml"
    result = run_tool([venv_tool(request.config, "onex-host"), "validate", "--allow-unset", str(shipped)], env={})
    assert result.returncode == 0, explain(result)
    assert result.stdout.splitlines()[-1].startswith(f"ok: {shipped} (infra_runtime_host: 3 nodes;"), explain(result)
