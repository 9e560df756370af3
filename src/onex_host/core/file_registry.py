"""Finds and loads the node contracts a runtime host contract lists."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onex_host.core.contracts import ModelNodeContract, ModelNodeRef, ModelRuntimeHostContract
from onex_host.core.errors import ContractError, ContractProblem
from onex_host.core.loader import format_location, load_model

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedNode:
    slug: str
    contract: ModelNodeContract
    path: Path


@dataclass(frozen=True)
class LoadedHost:
    """A validated runtime host contract with every enabled node contract it names."""

    contract: ModelRuntimeHostContract
    path: Path
    nodes: tuple[LoadedNode, ...]


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class FileRegistry:
    """Resolves node refs against the contracts directory.

    A ref whose file is missing or invalid is an error, never a skipped node;
    only refs marked ``enabled: false`` are left out, and that is logged.
    """

    def __init__(self, base_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self._base_dir = base_dir
        self._env = os.environ if env is None else env

    def load_node(self, ref: ModelNodeRef) -> LoadedNode:
        path = (self._base_dir / ref.contract_path).resolve()
        contract = load_model(ModelNodeContract, path, self._env)
        if ref.config_overrides:
            contract = contract.model_copy(update={"config": _deep_merge(contract.config, ref.config_overrides)})
        return LoadedNode(slug=ref.slug, contract=contract, path=path)

    def load_nodes(self, refs: list[ModelNodeRef], host_path: Path) -> tuple[LoadedNode, ...]:
        problems: list[ContractProblem] = []
        nodes: list[LoadedNode] = []
        for index, ref in enumerate(refs):
            if not ref.enabled:
                logger.info("node disabled by contract", extra={"node": ref.slug})
                continue
            if not (self._base_dir / ref.contract_path).is_file():
                problems.append(
                    ContractProblem(
                        host_path,
                        format_location(("nodes", index, "contract_path")),
                        f"node {ref.slug!r}: contract file {self._base_dir / ref.contract_path} does not exist",
                    )
                )
                continue
            try:
                nodes.append(self.load_node(ref))
            except ContractError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ContractError(problems)
        return tuple(nodes)


def load_host(path: Path, env: Mapping[str, str] | None = None) -> LoadedHost:
    """Load a runtime host contract and its nodes; raises ``ContractError`` listing every problem."""
    env = os.environ if env is None else env
    path = path.resolve()
    contract = load_model(ModelRuntimeHostContract, path, env)
    registry = FileRegistry(path.parent / contract.contracts_directory, env)
    return LoadedHost(contract=contract, path=path, nodes=registry.load_nodes(contract.nodes, path))
