"""flake.nix parses, pins every input through one nixpkgs, and declares what docs/appliance.md promises.

Building needs the Nix inputs (network) and a store; what can be checked here is
checked with Debian's nix-instantiate: the syntax, the inputs block and the
outputs function's signature (both evaluated), and nix/image.nix (evaluated).
"""

from __future__ import annotations

import re

import pytest

from tests.appliance.nix_eval import nix_eval, nix_instantiate

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
    # nix-instantiate --parse parenthesises every selection: `(workspace).deps.default`.
    assert "(workspace).deps.default" in parsed, "the image must hold the runtime dependencies only"
    assert "loadWorkspace" in parsed, "the application must be built from uv.lock"
