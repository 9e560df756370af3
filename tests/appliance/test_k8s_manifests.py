"""deploy/k8s: each overlay renders with a current kubectl, matches the Kubernetes schemas,
passes checkov, and runs the contract it carries the way the pod would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from ci.service_topology import Topology

from onex_host.core.file_registry import load_host
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from tests.appliance.host_contract import assert_host_would_start
from tests.appliance.k8s_render import (
    K8S_DIR,
    OVERLAYS,
    OverlayRenders,
    Render,
    base_contract_files,
    checkov_skip_annotations,
    host_container,
    materialise_contract_volume,
    pod_environment,
)
from tests.appliance.tooling import REPOSITORY

pytestmark = pytest.mark.appliance

# Custom resources have no schema in kubernetes-validate; their fields are checked below.
CUSTOM_KINDS = {("keda.sh/v1alpha1", "ScaledObject"), ("argoproj.io/v1alpha1", "Application")}
CUSTOM_KINDS |= {("argoproj.io/v1alpha1", "AppProject")}
CUSTOM_KINDS |= {("monitoring.coreos.com/v1", "PrometheusRule")}  # promtool checks it: tests/observability
MIN_SKIP_REASON = 40
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
        namespaces = {resource["metadata"]["namespace"] for resource in render.resources}
        assert namespaces == {spec["destination"]["namespace"]}
        assert namespaces <= destinations
        rendered_kinds = {(r["apiVersion"].rpartition("/")[0], r["kind"]) for r in render.resources}
        assert rendered_kinds <= allowed, f"{overlay} renders kinds the AppProject does not allow"


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
    assert "replicas" not in deployment["spec"], "the ScaledObject owns the replica count"


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
