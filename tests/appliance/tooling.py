"""Plumbing of the appliance checks: where the tools are, and what to do when one is missing.

Every check runs a real tool on the real files; none needs a container engine,
a Nix store, a cluster or a network. A missing tool skips the check, or fails it
under ``--require-services`` (CI), with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.support.provisioning.prerequisites import explain as explain
from tests.support.provisioning.prerequisites import unavailable as unavailable

REPOSITORY = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

DEBIAN_TOOLS_HINT = (
    "run `bash scripts/tools/install.sh` (Debian packages nix-bin, docker-compose, postgresql-client; Go)"
)
VENV_TOOLS_HINT = "run `make venv` (uv sync --all-groups installs the appliance group)"


def debian_tool(config: pytest.Config, name: str) -> str:
    found = shutil.which(name)
    if found is None:
        unavailable(config, f"{name} is not on PATH: {DEBIAN_TOOLS_HINT}")
    return found


def go_tool(config: pytest.Config) -> tuple[str, dict[str, str]]:
    """Go (>= 1.24) and the environment to run it in: on PATH, the machine image's, or install.sh's copy."""
    own = Path(os.environ.get("ONEX_GO_DIR", Path.home() / ".cache" / "onex-host" / "go")) / "bin" / "go"
    candidates = [shutil.which("go"), "/usr/local/go/bin/go", str(own)]
    found = next((c for c in candidates if c and Path(c).is_file()), None)
    if found is None:
        unavailable(config, f"go is not installed: {DEBIAN_TOOLS_HINT}")
    environment = {key: value for key, value in os.environ.items() if key.startswith(("GO", "HOME", "PATH"))}
    environment.setdefault("HOME", "/tmp")
    # Never fetch another toolchain behind the check's back; modules come from the proxy.
    environment["GOTOOLCHAIN"] = "local"
    return found, environment


def venv_tool(config: pytest.Config, name: str) -> str:
    """A tool from uv.lock's appliance group: the venv's own, never one that happens to be on PATH."""
    path = VENV_BIN / name
    if not path.is_file():
        unavailable(config, f"{path} is missing: {VENV_TOOLS_HINT}")
    return str(path)


def run_tool(
    argv: Sequence[str],
    *,
    cwd: Path = REPOSITORY,
    timeout: float = 120,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a check tool; the caller asserts on the return code and shows its output.

    ``env`` replaces the environment entirely, so a check sees only what it declares.
    """
    return subprocess.run(
        list(argv),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=None if env is None else dict(env),
    )
