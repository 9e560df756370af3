"""Nix expressions of this repository as Debian's nix-instantiate reads them: no store, no daemon, no network."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.appliance.tooling import debian_tool, explain, run_tool

# Debian's nix-bin is configured for a multi-user install; evaluation needs no build users.
NIX_ENV = {"NIX_CONFIG": "build-users-group =", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def nix_instantiate(config: pytest.Config, *arguments: str) -> str:
    tool = debian_tool(config, "nix-instantiate")
    result = run_tool([tool, *arguments], env={**NIX_ENV, "HOME": os.environ.get("HOME", "/tmp")})
    assert result.returncode == 0, explain(result)
    return result.stdout


def nix_eval(config: pytest.Config, expression: str) -> Any:
    """Evaluate an expression strictly and return it as JSON data."""
    return json.loads(nix_instantiate(config, "--eval", "--strict", "--json", "--expr", expression))
