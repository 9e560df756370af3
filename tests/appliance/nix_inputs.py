"""The flake's inputs as offline copies: where they are, unpacked once per session, and their NAR hashes.

No machine here reaches GitHub, so ``nix flake lock`` cannot fetch the inputs.
``../shared/nix-inputs`` (next to the repository, or ``$ONEX_NIX_INPUTS``) holds
``git archive`` exports of the commits ``flake.lock`` pins; unpacked, each one's
NAR hash is the ``narHash`` of its ``github:`` input. nixpkgs is too large to copy:
``nixpkgs.lib`` (its ``lib`` only) is there instead, enough to evaluate uv2nix.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.appliance.nix_eval import NIX_ENV
from tests.appliance.tooling import REPOSITORY, debian_tool, explain, run_tool, unavailable

# flake.lock node -> offline tarball (the repository it is an export of).
TARBALL_OF_INPUT = {
    "pyproject-nix": "pyproject.nix.tar.gz",
    "uv2nix": "uv2nix.tar.gz",
    "pyproject-build-systems": "build-system-pkgs.tar.gz",
}
NIXPKGS_LIB = "nixpkgs.lib.tar.gz"


def offline_inputs_directory() -> Path:
    return Path(os.environ.get("ONEX_NIX_INPUTS", REPOSITORY.parent / "shared" / "nix-inputs"))


@dataclass(frozen=True)
class OfflineInputs:
    """Each tarball unpacked into its own folder: tarball name -> the folder holding the tree."""

    trees: dict[str, Path]

    def tree(self, tarball: str) -> Path:
        return self.trees[tarball]


def _unpack(tarball: Path, into: Path) -> Path:
    into.mkdir(parents=True)
    with tarfile.open(tarball) as archive:
        archive.extractall(into, filter="tar")
    (tree,) = list(into.iterdir())
    return tree


def unpack_offline_inputs(config: pytest.Config, workdir: Path) -> OfflineInputs:
    source = offline_inputs_directory()
    names = [*TARBALL_OF_INPUT.values(), NIXPKGS_LIB]
    missing = [name for name in names if not (source / name).is_file()]
    if missing:
        unavailable(config, f"offline copies of the flake's inputs missing in {source}: {', '.join(missing)}")
    return OfflineInputs({name: _unpack(source / name, workdir / name.removesuffix(".tar.gz")) for name in names})


def nar_hash(config: pytest.Config, tree: Path) -> str:
    """``nix hash path``: the SRI sha256 of the tree's NAR serialisation, as flake.lock's narHash."""
    nix = debian_tool(config, "nix")
    result = run_tool(
        [nix, "--extra-experimental-features", "nix-command", "hash", "path", str(tree)],
        env={**NIX_ENV, "HOME": os.environ.get("HOME", "/tmp")},
    )
    assert result.returncode == 0, explain(result)
    return result.stdout.strip()


def flake_lock() -> dict[str, Any]:
    lock: dict[str, Any] = json.loads((REPOSITORY / "flake.lock").read_text(encoding="utf-8"))
    return lock


def git_tracked(root: Path) -> set[Path] | None:
    """The files git tracks under ``root``, or None outside a git checkout."""
    result = run_tool(["git", "ls-files", "-z"], cwd=root)
    if result.returncode != 0:
        return None
    return {Path(name) for name in result.stdout.split("\0") if name}


def copy_files(files: list[str], root: Path, into: Path) -> list[Path]:
    """Copy the listed files (absolute paths under ``root``) into ``into``, keeping their relative paths.

    A flake's source is the git-tracked files only, so in a checkout an untracked file
    (a stray cache, a test not yet added) is left out as the flake would leave it out.
    """
    tracked = git_tracked(root)
    copied: list[Path] = []
    for name in files:
        relative = Path(name).relative_to(root)
        if tracked is not None and relative not in tracked:
            continue
        (into / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(name, into / relative)
        copied.append(relative)
    return copied
