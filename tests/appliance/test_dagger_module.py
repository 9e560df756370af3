"""The Dagger module: wired as dagger-io discovers it, registered by the installed SDK, type-checked against it."""

from __future__ import annotations

import importlib.metadata
import json
import re
import sys
import tomllib
from typing import Any

import pytest

from tests.appliance.tooling import REPOSITORY, explain, run_tool, venv_tool

pytestmark = pytest.mark.appliance

FUNCTIONS = {"build", "test", "e2e", "lint", "publish"}
# publish cannot guess where to push or as whom; everything else runs with no flags.
REQUIRED_ARGUMENTS = {"publish": {"registry", "username", "token"}}


def _dagger_json() -> dict[str, Any]:
    config: dict[str, Any] = json.loads((REPOSITORY / "dagger.json").read_text(encoding="utf-8"))
    return config


def _module_pyproject() -> dict[str, Any]:
    return tomllib.loads((REPOSITORY / _dagger_json()["source"] / "pyproject.toml").read_text(encoding="utf-8"))


def main_object_name(module_name: str) -> str:
    """The class the Dagger runtime asks for (DAGGER_MAIN_OBJECT): the module name in PascalCase."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_\s]+", module_name) if part)


def test_dagger_json_points_at_the_python_module_in_ci_for_the_installed_engine_version() -> None:
    config = _dagger_json()
    assert config["source"] == "ci"
    assert config["sdk"] == {"source": "python"}
    # The module is type-checked against this SDK; the engine must speak the same API.
    assert config["engineVersion"] == f"v{importlib.metadata.version('dagger-io')}"


def test_entry_point_makes_dagger_pipeline_the_main_object() -> None:
    """dagger-io loads entry point group "dagger.mod", name "main_object" (dagger/mod/cli.py)."""
    project = _module_pyproject()
    entry_point = project["project"]["entry-points"]["dagger.mod"]["main_object"]
    assert entry_point == f"dagger_pipeline:{main_object_name(_dagger_json()['name'])}"
    shipped = set(project["tool"]["hatch"]["build"]["targets"]["wheel"]["only-include"])
    local_modules = {path.name for path in (REPOSITORY / "ci").glob("*.py")}
    assert shipped == local_modules, "every module of ci/ must be installed with the Dagger module"


def test_module_dependencies_stay_out_of_the_application_and_match_its_lock() -> None:
    dependencies = _module_pyproject()["project"]["dependencies"]
    lock = tomllib.loads((REPOSITORY / "uv.lock").read_text(encoding="utf-8"))
    locked = {package["name"]: package["version"] for package in lock["package"]}
    assert f"PyYAML=={locked['pyyaml']}" in dependencies
    application = tomllib.loads((REPOSITORY / "pyproject.toml").read_text(encoding="utf-8"))
    assert not any(dep.startswith("dagger-io") for dep in application["project"]["dependencies"])


def test_installed_sdk_registers_every_function_and_test_needs_no_flags() -> None:
    entry_point = _module_pyproject()["project"]["entry-points"]["dagger.mod"]["main_object"]
    result = run_tool(
        [sys.executable, "-m", "tests.appliance.dagger_registration", entry_point],
        env={"DAGGER_MAIN_OBJECT": main_object_name(_dagger_json()["name"]), "PYTHONPATH": str(REPOSITORY)},
    )
    assert result.returncode == 0, explain(result)
    functions: dict[str, dict[str, dict[str, Any]]] = json.loads(result.stdout)
    functions.pop("", None)  # the constructor
    assert set(functions) == FUNCTIONS
    for name, arguments in functions.items():
        assert arguments["source"]["defaultPath"] == "/", f"{name}: source must default to the repository"
        assert ".venv" in arguments["source"]["ignore"], f"{name}: the local venv must not be uploaded"
        required = {arg for arg, spec in arguments.items() if spec["defaultPath"] is spec["defaultValue"] is None}
        assert required == REQUIRED_ARGUMENTS.get(name, set()), name


def test_module_type_checks_against_the_installed_dagger_io(request: pytest.FixtureRequest) -> None:
    mypy = venv_tool(request.config, "mypy")
    result = run_tool([mypy, "--strict", "ci"], timeout=300)
    assert result.returncode == 0, explain(result)
