"""Upstream CustomResourceDefinitions of the custom kinds deploy/k8s renders, as strict JSON schemas.

kubernetes-validate ships only the built-in kinds. The CRDs come from the Go
modules of the projects that define them (``go mod download`` through the Go
module proxy, cached in the module cache), at the versions pinned below: Argo CD
(Application, AppProject) and KEDA (ScaledObject), each file exactly as the
project installs it into a cluster.

The API server prunes unknown fields of a structural schema silently, which hides
a misspelt or misplaced field; here every object schema that does not preserve
unknown fields refuses them instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.appliance.tooling import explain, go_tool, run_tool

# Argo CD's newest release whose module the installed Go toolchain accepts (v3.6 needs Go 1.27).
ARGO_CD = ("github.com/argoproj/argo-cd/v3", "v3.5.7")
KEDA = ("github.com/kedacore/keda/v2", "v2.21.0")
# The newest release the Go module proxy serves as a whole module (later ones only as pkg/apis submodules).
PROMETHEUS_OPERATOR = ("github.com/prometheus-operator/prometheus-operator", "v0.85.0")
CRD_FILES: dict[tuple[str, str], tuple[tuple[str, str], str]] = {
    ("argoproj.io/v1alpha1", "Application"): (ARGO_CD, "manifests/crds/application-crd.yaml"),
    ("argoproj.io/v1alpha1", "AppProject"): (ARGO_CD, "manifests/crds/appproject-crd.yaml"),
    ("keda.sh/v1alpha1", "ScaledObject"): (KEDA, "config/crd/bases/keda.sh_scaledobjects.yaml"),
    ("monitoring.coreos.com/v1", "PrometheusRule"): (
        PROMETHEUS_OPERATOR,
        "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
    ),
}


def module_directory(config: pytest.Config, module: tuple[str, str]) -> Path:
    """The module's source tree in the Go module cache (downloaded once through the proxy)."""
    path, version = module
    go, environment = go_tool(config)
    result = run_tool([go, "mod", "download", "-json", f"{path}@{version}"], env=environment, timeout=600)
    assert result.returncode == 0, explain(result)
    return Path(json.loads(result.stdout)["Dir"])


def refuse_unknown_fields(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of an OpenAPI v3 schema in which objects with declared properties allow no others."""
    strict = dict(schema)
    if (
        "properties" in strict
        and "additionalProperties" not in strict
        and not strict.get("x-kubernetes-preserve-unknown-fields")
    ):
        strict["additionalProperties"] = False
    if "properties" in strict:
        strict["properties"] = {name: refuse_unknown_fields(sub) for name, sub in strict["properties"].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(strict.get(key), dict):
            strict[key] = refuse_unknown_fields(strict[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in strict:
            strict[key] = [refuse_unknown_fields(sub) for sub in strict[key]]
    return strict


def crd_schema(config: pytest.Config, api_version: str, kind: str) -> dict[str, Any]:
    """The served version's openAPIV3Schema of the CRD defining this kind, unknown fields refused."""
    module, relative = CRD_FILES[(api_version, kind)]
    documents = list(yaml.safe_load_all((module_directory(config, module) / relative).read_text(encoding="utf-8")))
    (crd,) = [doc for doc in documents if doc and doc.get("kind") == "CustomResourceDefinition"]
    group, _, version = api_version.partition("/")
    assert crd["spec"]["group"] == group, (crd["spec"]["group"], api_version)
    assert crd["spec"]["names"]["kind"] == kind
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version and v.get("served", True)]
    schema: dict[str, Any] = served["schema"]["openAPIV3Schema"]
    return refuse_unknown_fields(schema)
