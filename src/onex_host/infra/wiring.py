"""The single source of truth for which class implements each handler type.

Nothing else in the code base maps an ``EnumHandlerType`` to a class: the
process, ``onex-host validate`` and the shared handler test suite all read
``HANDLER_REGISTRY``.

Handler modules are imported on first lookup, so a host pays (in memory and
start-up time) only for the client libraries of the handlers its contract
enables: a dev host never imports asyncpg or hvac.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from onex_host.core.contracts import ModelRuntimeHostContract
from onex_host.core.enums import EnumHandlerType
from onex_host.core.errors import ContractError, ContractProblem
from onex_host.infra.handlers.base import BaseHandler
from onex_host.runtime.node_runtime import NodeRuntime


class _LazyHandlerRegistry(Mapping[EnumHandlerType, type[BaseHandler[Any]]]):
    """Maps handler types to classes named ``module:Class``, importing each on first lookup."""

    def __init__(self, locations: Mapping[EnumHandlerType, str]) -> None:
        self._locations = dict(locations)
        self._classes: dict[EnumHandlerType, type[BaseHandler[Any]]] = {}

    def __getitem__(self, handler_type: EnumHandlerType) -> type[BaseHandler[Any]]:
        cls = self._classes.get(handler_type)
        if cls is None:
            module_name, _, class_name = self._locations[handler_type].partition(":")
            cls = getattr(importlib.import_module(module_name), class_name)
            if getattr(cls, "handler_type", None) is not handler_type:
                raise TypeError(f"{self._locations[handler_type]} does not implement {handler_type.value!r}")
            self._classes[handler_type] = cls
        return cls

    def __iter__(self) -> Iterator[EnumHandlerType]:
        return iter(self._locations)

    def __len__(self) -> int:
        return len(self._locations)


HANDLER_REGISTRY: Mapping[EnumHandlerType, type[BaseHandler[Any]]] = _LazyHandlerRegistry(
    {
        EnumHandlerType.LOCAL: "onex_host.infra.handlers.local:LocalHandler",  # dev/test only
        EnumHandlerType.HTTP: "onex_host.infra.handlers.http:HttpHandler",
        EnumHandlerType.DB: "onex_host.infra.handlers.db:DbHandler",
        EnumHandlerType.VAULT: "onex_host.infra.handlers.vault:VaultHandler",
        EnumHandlerType.CONSUL: "onex_host.infra.handlers.consul:ConsulHandler",
        EnumHandlerType.LLM: "onex_host.infra.handlers.llm:LlmHandler",
    }
)


def handler_class(handler_type: EnumHandlerType) -> type[BaseHandler[Any]] | None:
    return HANDLER_REGISTRY.get(handler_type)


def check_handler_configs(
    contract: ModelRuntimeHostContract, source: str
) -> list[tuple[type[BaseHandler[Any]], BaseModel]]:
    """Every enabled handler's class and parsed config; fails with every problem if a handler
    has no implementation or a bad config. The one place handler configs are parsed."""
    problems: list[ContractProblem] = []
    parsed: list[tuple[type[BaseHandler[Any]], BaseModel]] = []
    for index, entry in enumerate(contract.handlers):
        if not entry.enabled:
            continue
        cls = HANDLER_REGISTRY.get(entry.handler_type)
        prefix = f"handlers[{index}]"
        if cls is None:
            available = ", ".join(sorted(k.value for k in HANDLER_REGISTRY))
            problems.append(
                ContractProblem(
                    source,
                    f"{prefix}.handler_type",
                    f"handler type {entry.handler_type.value!r} has no implementation (available: {available})",
                )
            )
            continue
        try:
            parsed.append((cls, cls.parse_config(entry.config, source)))
        except ContractError as exc:
            problems.extend(ContractProblem(p.path, f"{prefix}.config.{p.field}", p.message) for p in exc.problems)
    if problems:
        raise ContractError(problems)
    return parsed


def register_handlers(runtime: NodeRuntime, contract: ModelRuntimeHostContract, source: str) -> list[BaseModel]:
    """Instantiate and register every enabled handler; the only place handlers are registered.

    Returns the parsed handler configs (for example to learn which values are secrets).
    """
    parsed = check_handler_configs(contract, source)
    for cls, config in parsed:
        runtime.register_handler(cls(config))
    return [config for _, config in parsed]
