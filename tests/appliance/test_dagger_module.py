"""The Dagger module: wired as dagger-io discovers it, registered by the installed SDK, type-checked against it."""

from __future__ import annotations

import ast
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
REQUIRED_ARGUMENTS = {"publish": {"registry", "username", "token", "commit"}}
# Their result must never be reused: a rerun tests again, a re-publish pushes again.
NEVER_CACHED = {"test", "e2e", "publish"}
PIPELINE = REPOSITORY / "ci" / "dagger_pipeline.py"


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
    registered: dict[str, dict[str, Any]] = json.loads(result.stdout)
    functions: dict[str, dict[str, dict[str, Any]]] = registered["arguments"]
    functions.pop("", None)  # the constructor
    assert set(functions) == FUNCTIONS
    never = {name for name, policy in registered["cache_policies"].items() if policy.upper() == "NEVER"}
    assert never == NEVER_CACHED, registered["cache_policies"]
    for name, arguments in functions.items():
        assert arguments["source"]["defaultPath"] == "/", f"{name}: source must default to the repository"
        assert ".venv" in arguments["source"]["ignore"], f"{name}: the local venv must not be uploaded"
        required = {arg for arg, spec in arguments.items() if spec["defaultPath"] is spec["defaultValue"] is None}
        assert required == REQUIRED_ARGUMENTS.get(name, set()), name


def test_module_type_checks_against_the_installed_dagger_io(request: pytest.FixtureRequest) -> None:
    mypy = venv_tool(request.config, "mypy")
    result = run_tool([mypy, "--strict", "ci"], timeout=300)
    assert result.returncode == 0, explain(result)


def _pipeline_constant(name: str) -> Any:
    tree = ast.parse(PIPELINE.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            assert node.value is not None
            return ast.literal_eval(node.value)
    raise AssertionError(f"ci/dagger_pipeline.py defines no {name}")


def test_dagger_lint_runs_exactly_make_lint() -> None:
    makefile = (REPOSITORY / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(makefile) if line.startswith("lint:"))
    recipe = []
    for line in makefile[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip().replace("$(VENV)", ".venv").split())
    assert _pipeline_constant("LINT_COMMANDS") == recipe


def test_only_real_credentials_are_dagger_secrets() -> None:
    """Committed development values (POSTGRES_PASSWORD=onex) as secrets would be scrubbed from every log line."""
    tree = ast.parse(PIPELINE.read_text(encoding="utf-8"))
    secret_values = [
        node.args[1]
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "set_secret"
    ]
    assert secret_values, "the per-run API token is a secret"
    for value in secret_values:
        assert isinstance(value, ast.Call), ast.unparse(value)
        assert ast.unparse(value.func) == "secrets.token_urlsafe", f"only generated credentials: {ast.unparse(value)}"
    (environment,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_with_environment"]
    assert "with_secret_variable" not in ast.unparse(environment)


def test_dagger_test_runs_the_broker_restart_tests_against_a_broker_it_may_restart() -> None:
    restart_tests = _pipeline_constant("BROKER_RESTART_TESTS")
    assert restart_tests
    for path in restart_tests:
        text = (REPOSITORY / path).read_text(encoding="utf-8")
        assert "controller is None" in text, f"{path}: no longer the test that needs a restartable broker"
    pipeline = PIPELINE.read_text(encoding="utf-8")
    assert 'topology.services["kafka"].test_env' in pipeline, "the second run must not be given the Dagger Kafka"
    assert '"scripts/services/install.sh"' in pipeline, "the native broker must be installed in that container"
