"""Small builders for envelopes, contracts and runtimes used across tests."""

from __future__ import annotations

from typing import Any

from onex_host.core.contracts import ModelNodeContract, ModelOperationSpec
from onex_host.core.enums import EnumHandlerType, EnumSideEffects
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.handlers.local import LocalHandler
from onex_host.runtime.node_runtime import NodeRuntime


def echo_node(name: str = "echo", side_effects: EnumSideEffects = EnumSideEffects.NONE) -> ModelNodeContract:
    return ModelNodeContract(
        name=name,
        operations={
            op: ModelOperationSpec(handler_type=EnumHandlerType.LOCAL, side_effects=side_effects)
            for op in ("echo", "sleep", "fail")
        },
    )


def command(
    target: str | None = "echo", operation: str = "echo", payload: dict[str, Any] | None = None, **fields: Any
) -> ModelOnexEnvelope:
    return ModelOnexEnvelope(
        source_node="test",
        target_node=target,
        handler_type=fields.pop("handler_type", EnumHandlerType.LOCAL),
        operation=operation,
        payload=payload or {},
        **fields,
    )


async def echo_runtime(*slugs: str, shadow: bool = False) -> NodeRuntime:
    runtime = NodeRuntime(shadow=shadow)
    runtime.register_handler(LocalHandler())
    for slug in slugs or ("echo",):
        runtime.add_node(slug, echo_node(slug))
    await runtime.initialize()
    return runtime
