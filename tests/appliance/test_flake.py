"""flake.nix parses, pins every input through one nixpkgs, and declares what docs/appliance.md promises.

Building needs the Nix inputs (network) and a store; what can be checked here is
checked with Debian's nix-instantiate: the syntax, the inputs block and the
outputs function's signature (both evaluated), and nix/image.nix (evaluated).
"""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.appliance.nix_eval import nix_eval, nix_instantiate
from tests.appliance.tooling import REPOSITORY

pytestmark = pytest.mark.appliance

INPUTS = {"nixpkgs", "pyproject-nix", "uv2nix", "pyproject-build-systems"}


def test_flake_parses(request: pytest.FixtureRequest) -> None:
    nix_instantiate(request.config, "--parse", "flake.nix")


def test_every_input_follows_the_one_nixpkgs(request: pytest.FixtureRequest) -> None:
    inputs = nix_eval(request.config, "(import ./flake.nix).inputs")
    assert set(inputs) == INPUTS
    assert inputs["nixpkgs"]["url"].startswith("github:NixOS/nixpkgs/")
    for name in INPUTS - {"nixpkgs"}:
        assert inputs[name]["inputs"]["nixpkgs"]["follows"] == "nixpkgs", name
    assert inputs["uv2nix"]["inputs"]["pyproject-nix"]["follows"] == "pyproject-nix"
    assert inputs["pyproject-build-systems"]["inputs"]["uv2nix"]["follows"] == "uv2nix"
    assert inputs["pyproject-build-systems"]["inputs"]["pyproject-nix"]["follows"] == "pyproject-nix"


def test_outputs_take_every_input(request: pytest.FixtureRequest) -> None:
    arguments = nix_eval(request.config, "builtins.functionArgs (import ./flake.nix).outputs")
    assert INPUTS | {"self"} <= set(arguments)


def test_flake_declares_the_image_the_default_package_the_dev_shell_and_three_checks(
    request: pytest.FixtureRequest,
) -> None:
    parsed = nix_instantiate(request.config, "--parse", "flake.nix")
    for attribute in ("packages", "checks", "devShells", "default", "image"):
        assert re.search(rf"\b{attribute} = ", parsed), f"flake.nix declares no {attribute}"
    for check in ("pytest-unit", "mypy", "ruff"):
        assert f"{check} = " in parsed, f"flake.nix declares no check {check}"
    assert "dockerTools.buildLayeredImage" in parsed
    # nix-instantiate --parse parenthesises every selection: `(onex).deps.image`. What each
    # selection holds is evaluated by test_nix_workspace.py.
    assert "(onex).deps.image" in parsed, "the image must hold the runtime dependencies only"
    assert "(onex).deps.checks" in parsed, "the checks must get the groups they import"
    assert "(onex).deps.devShell" in parsed
    assert "(onex).checkFileset" in parsed
    assert "(onex).editableFileset" in parsed
    assert "deps.default" not in parsed, "select groups in nix/workspace.nix only"
    assert "deps.all" not in parsed, "select groups in nix/workspace.nix only"
    assert "/nix/workspace.nix" in parsed, "the application must be built from uv.lock through nix/workspace.nix"


def test_nix_workspace_loads_uv_lock() -> None:
    text = (REPOSITORY / "nix" / "workspace.nix").read_text(encoding="utf-8")
    assert "loadWorkspace" in text


def test_uv_lock_carries_no_default_groups() -> None:
    """uv2nix's lock parser rejects `default-groups` in a package entry (uv writes it from tool.uv.default-groups)."""
    lock = tomllib.loads((REPOSITORY / "uv.lock").read_text(encoding="utf-8"))
    (onex_host,) = [package for package in lock["package"] if package["name"] == "onex-host"]
    assert "default-groups" not in onex_host
    pyproject = tomllib.loads((REPOSITORY / "pyproject.toml").read_text(encoding="utf-8"))
    assert "default-groups" not in pyproject.get("tool", {}).get("uv", {})
