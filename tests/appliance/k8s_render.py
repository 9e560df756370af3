"""deploy/k8s rendered the way Argo CD renders it, and the pieces the checks look at.

Rendering is done once per overlay per test session (``OverlayRenders``):
kubectl's kustomize is fast, but checkov is not, so it runs once over every
render together.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.appliance.tooling import REPOSITORY, explain, run_tool, unavailable, venv_tool

K8S_DIR = REPOSITORY / "deploy" / "k8s"
OVERLAYS = ("production", "shadow")
# Files the generators read are copied into the kustomize tree by this script.
SYNC_SCRIPT = "sh deploy/k8s/sync-files.sh"

Resource = dict[str, Any]


@dataclass(frozen=True)
class Render:
    name: str
    text: str
    resources: tuple[Resource, ...]

    def of_kind(self, kind: str) -> list[Resource]:
        return [resource for resource in self.resources if resource["kind"] == kind]

    def one(self, kind: str) -> Resource:
        found = self.of_kind(kind)
        assert len(found) == 1, f"{self.name}: expected one {kind}, rendered {len(found)}"
        return found[0]

    def config_map(self, generated_name: str) -> Resource:
        """A generated ConfigMap by its base name (kustomize appends suffixes and a hash)."""
        found = [cm for cm in self.of_kind("ConfigMap") if cm["metadata"]["name"].startswith(generated_name)]
        assert len(found) == 1, f"{self.name}: expected one ConfigMap named {generated_name}*, found {len(found)}"
        return found[0]


def host_container(deployment: Resource) -> Resource:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["onex-host"], containers
    container: Resource = containers[0]
    return container


def generator_files(kustomization_dir: Path, name: str) -> list[Path]:
    """The files a configMapGenerator reads, as paths (inside the kustomization's directory)."""
    kustomization = yaml.safe_load((kustomization_dir / "kustomization.yaml").read_text(encoding="utf-8"))
    (generator,) = [g for g in kustomization["configMapGenerator"] if g["name"] == name]
    return [(kustomization_dir / relative).resolve() for relative in generator["files"]]


def base_contract_files() -> list[Path]:
    """The contract files the base ConfigMap is generated from (the copies under deploy/k8s/base/contracts)."""
    return generator_files(K8S_DIR / "base", "onex-host-contracts")


def copied_files() -> dict[Path, Path]:
    """Every file a generator reads from a copy -> the repository file it must equal."""
    copies = {path: REPOSITORY / path.relative_to(K8S_DIR / "base") for path in base_contract_files()}
    production = K8S_DIR / "overlays" / "production"
    for path in generator_files(production, "onex-host-migrations"):
        copies[path] = REPOSITORY / path.relative_to(production)
    return copies


def _render(config: pytest.Config, directory: Path) -> Render:
    kubectl = venv_tool(config, "kubectl")
    # Exactly as typed (`kubectl kustomize DIR`, `kubectl apply -k DIR`) and as Argo CD
    # renders without build options: kustomize's default load restrictor, no flags.
    result = run_tool([kubectl, "kustomize", str(directory)])
    assert result.returncode == 0, explain(result)
    resources = tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)
    return Render(name=directory.name, text=result.stdout, resources=resources)


def render_edited_overlay(config: pytest.Config, workdir: Path, overlay: str, old: str, new: str) -> Render:
    """``overlay`` as a pull request would leave it: a copy of deploy/k8s whose kustomization has ``old``
    replaced by ``new`` (which must occur exactly once), rendered like the shipped one."""
    tree = workdir / "k8s"
    shutil.copytree(K8S_DIR, tree)
    kustomization = tree / "overlays" / overlay / "kustomization.yaml"
    text = kustomization.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{kustomization.relative_to(tree)} no longer holds {old!r} exactly once"
    kustomization.write_text(text.replace(old, new), encoding="utf-8")
    return _render(config, tree / "overlays" / overlay)


@dataclass
class OverlayRenders:
    """Session cache of the rendered overlays and of checkov's findings on them."""

    config: pytest.Config
    workdir: Path
    _renders: dict[str, Render] = field(default_factory=dict)
    _checkov: dict[str, Any] | None = None

    def render(self, overlay: str) -> Render:
        if overlay not in self._renders:
            missing = [str(path.relative_to(REPOSITORY)) for path in base_contract_files() if not path.is_file()]
            if missing:
                unavailable(
                    self.config,
                    f"deploy/k8s/base puts {', '.join(missing)} into the contracts ConfigMap, "
                    "but the file does not exist yet",
                )
            self._renders[overlay] = _render(self.config, K8S_DIR / "overlays" / overlay)
        return self._renders[overlay]

    def argocd(self) -> Render:
        if "argocd" not in self._renders:
            self._renders["argocd"] = _render(self.config, K8S_DIR / "argocd")
        return self._renders["argocd"]

    def checkov_results(self) -> dict[str, Any]:
        """checkov's kubernetes results over every overlay render, from one run."""
        if self._checkov is None:
            checkov = venv_tool(self.config, "checkov")
            scan_dir = self.workdir / "checkov"
            scan_dir.mkdir(exist_ok=True)
            for overlay in OVERLAYS:
                (scan_dir / f"{overlay}.yaml").write_text(self.render(overlay).text, encoding="utf-8")
            # --skip-download: no call home for guidelines; the checks ship in the package.
            argv = [checkov, "--directory", str(scan_dir), "--framework", "kubernetes", "--skip-download"]
            result = run_tool([*argv, "--output", "json"], timeout=300)
            # Exit 1 means "findings"; the findings are asserted by the caller.
            assert result.returncode in (0, 1), explain(result)
            report = json.loads(result.stdout)
            assert isinstance(report, dict), result.stdout[:2000]
            assert report.get("check_type") == "kubernetes", result.stdout[:2000]
            assert report["summary"]["parsing_errors"] == 0, report["summary"]
            self._checkov = report["results"]
        return self._checkov


def pod_environment(render: Render) -> dict[str, str]:
    """The environment the host container sees, with secret values replaced by a marker."""
    container = host_container(render.one("Deployment"))
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        (config_map,) = [cm for cm in render.of_kind("ConfigMap") if cm["metadata"]["name"] == name]
        environment.update(config_map["data"])
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
        else:
            secret = variable["valueFrom"]["secretKeyRef"]
            environment[variable["name"]] = f"from-secret-{secret['name']}-{secret['key']}"
    return environment


def materialise_contract_volume(render: Render, root: Path) -> Path:
    """Lay the contracts volume out as the kubelet does at /etc/onex/contracts; return its root."""
    deployment = render.one("Deployment")
    (mount,) = [m for m in host_container(deployment)["volumeMounts"] if m["name"] == "contracts"]
    (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "contracts"]
    (config_map,) = [cm for cm in render.of_kind("ConfigMap") if cm["metadata"]["name"] == volume["configMap"]["name"]]
    for item in volume["configMap"]["items"]:
        target = root / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(config_map["data"][item["key"]], encoding="utf-8")
    assert mount["mountPath"] == "/etc/onex/contracts", mount
    return root


def contract_path_in_pod(render: Render) -> str:
    return pod_environment(render)["ONEX_CONTRACT"]


def checkov_skip_annotations(resources: tuple[Resource, ...]) -> Iterator[tuple[str, str, str]]:
    """(resource, rule, reason) for every ``checkov.io/skip*`` annotation."""
    for resource in resources:
        annotations: Mapping[str, str] = resource["metadata"].get("annotations") or {}
        for key, value in annotations.items():
            if key.startswith("checkov.io/skip"):
                rule, _, reason = value.partition("=")
                yield f"{resource['kind']}/{resource['metadata']['name']}", rule, reason


@pytest.fixture(scope="session")
def overlay_renders(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> OverlayRenders:
    return OverlayRenders(config=request.config, workdir=tmp_path_factory.mktemp("k8s"))
