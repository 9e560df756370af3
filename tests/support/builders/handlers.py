"""Drive a real handler through ``NodeRuntime``, the path a production envelope takes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from onex_host.core import EnumHandlerType, ModelNodeContract, ModelOnexEnvelope
from onex_host.infra.handlers.local import LocalHandler
from onex_host.infra.wiring import HANDLER_REGISTRY
from onex_host.runtime import NodeRuntime

NODE = "node_under_test"


@dataclass
class HostedNode:
    runtime: NodeRuntime
    handler_type: EnumHandlerType

    async def call(
        self,
        operation: str,
        payload: Mapping[str, Any] | None = None,
        *,
        ttl: float | None = None,
        handler_type: EnumHandlerType | None = None,
    ) -> ModelOnexEnvelope:
        envelope = ModelOnexEnvelope(
            source_node="test",
            target_node=NODE,
            handler_type=handler_type or self.handler_type,
            operation=operation,
            payload=dict(payload or {}),
            ttl_seconds=ttl,
        )
        return await self.runtime.route_envelope(envelope)

    async def health(self) -> dict[str, Any]:
        (health,) = [h for h in await self.runtime.health() if h.handler_type is self.handler_type]
        return health.model_dump(mode="json")


@asynccontextmanager
async def hosted_node(
    handler_type: EnumHandlerType,
    config: Mapping[str, Any],
    operations: Mapping[str, Mapping[str, Any]],
    *,
    with_local: bool = False,
) -> AsyncIterator[HostedNode]:
    """One node whose ``operations`` (node-contract form) run on the registered handler for ``handler_type``.

    ``with_local`` also registers the echo handler, for tests that need a second kind of traffic.
    """
    runtime = NodeRuntime()
    runtime.register_handler(HANDLER_REGISTRY[handler_type].from_config(config))
    if with_local:
        runtime.register_handler(LocalHandler())
    ops = {name: {"handler_type": handler_type.value, **spec} for name, spec in operations.items()}
    if with_local:
        ops["echo"] = {"handler_type": "local", "side_effects": "none"}
    runtime.add_node(NODE, ModelNodeContract.model_validate({"name": NODE, "operations": ops}))
    await runtime.initialize()
    try:
        yield HostedNode(runtime, handler_type)
    finally:
        await runtime.shutdown()


@asynccontextmanager
async def local_http_server(app: web.Application) -> AsyncIterator[TestServer]:
    """An aiohttp app on a free loopback port; ``server.make_url(path)`` gives its URLs."""
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()
