"""The single source of truth for which class implements each handler type.

Nothing else in the code base maps an ``EnumHandlerType`` to a class: the
process, ``onex-host validate`` and the shared handler test suite all read
``HANDLER_REGISTRY``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from onex_host.core.contracts import ModelRuntimeHostContract
from onex_host.core.enums import EnumHandlerType
from onex_host.core.errors import ContractError, ContractProblem
from onex_host.core.handler_base import BaseHandler
from onex_host.core.local_handler import LocalHandler
from onex_host.core.node_runtime import NodeRuntime
from onex_host.infra.handlers import ConsulHandler, DbHandler, HttpHandler, LlmHandler, VaultHandler

HANDLER_REGISTRY: Mapping[EnumHandlerType, type[BaseHandler[Any]]] = {
    EnumHandlerType.LOCAL: LocalHandler,  # dev/test only; refused by production contracts
    EnumHandlerType.HTTP: HttpHandler,
    EnumHandlerType.DB: DbHandler,
    EnumHandlerType.VAULT: VaultHandler,
    EnumHandlerType.CONSUL: ConsulHandler,
    EnumHandlerType.LLM: LlmHandler,
}


def handler_class(handler_type: EnumHandlerType) -> type[BaseHandler[Any]] | None:
    return HANDLER_REGISTRY.get(handler_type)


def check_handler_configs(contract: ModelRuntimeHostContract, source: str) -> None:
    """Fail with every problem if a handler has no implementation or a bad config."""
    problems: list[ContractProblem] = []
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
            cls.parse_config(entry.config, source)
        except ContractError as exc:
            problems.extend(ContractProblem(p.path, f"{prefix}.config.{p.field}", p.message) for p in exc.problems)
    if problems:
        raise ContractError(problems)


def register_handlers(runtime: NodeRuntime, contract: ModelRuntimeHostContract, source: str) -> None:
    """Instantiate and register every enabled handler; the only place handlers are registered."""
    check_handler_configs(contract, source)
    for entry in contract.enabled_handlers():
        cls = HANDLER_REGISTRY[entry.handler_type]
        runtime.register_handler(cls(), entry.config)
