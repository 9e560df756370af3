"""``NodeRuntime``: routes envelopes to nodes and their handlers, in memory.

It owns no event loop, no consumer and no socket. Whoever owns the transport
(``RuntimeHostProcess`` and its event bus, the HTTP API, a test) awaits
``route_envelope`` and gets a reply for every envelope: routing problems,
expired TTLs and handler failures all come back as error replies, never as
exceptions.

Broadcast: an envelope with no ``target_node`` runs on every node that
declares its operation for its handler type, concurrently. The single reply
carries ``payload.results`` (slug -> reply envelope as JSON) and succeeds only
if every node succeeded; otherwise it carries the first failure's error code.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from onex_host.core.contracts import ModelNodeContract
from onex_host.core.enums import EnumErrorCode, EnumHandlerType, EnumSideEffects
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.errors import ContractError, ContractProblem, OperationError
from onex_host.core.file_registry import LoadedNode
from onex_host.core.operation import ModelHandlerHealth, OperationContext
from onex_host.core.replies import reply_for_exception
from onex_host.runtime.node_instance import NodeInstance
from onex_host.spi.handler import ProtocolHandler

logger = logging.getLogger(__name__)


class NodeRuntime:
    """Pure in-memory orchestrator of nodes and handlers.

    ``shadow=True`` makes the runtime execute only operations declared with
    ``side_effects: none``; every other operation is answered with a
    ``shadow_skipped`` reply recording what would have run.
    """

    def __init__(self, *, shadow: bool = False) -> None:
        self.shadow = shadow
        self._handlers: dict[EnumHandlerType, ProtocolHandler] = {}
        self._nodes: dict[str, NodeInstance] = {}
        self._initialized = False

    # -- assembly ---------------------------------------------------------------------

    def register_handler(self, handler: ProtocolHandler) -> None:
        if handler.handler_type in self._handlers:
            raise ValueError(f"a {handler.handler_type.value} handler is already registered")
        self._handlers[handler.handler_type] = handler

    def add_node(self, slug: str, contract: ModelNodeContract, path: Path | None = None) -> NodeInstance:
        """Host a node; raises ``ContractError`` if an operation needs a handler this host lacks."""
        if slug in self._nodes:
            raise ContractError([ContractProblem(path or slug, "name", f"node slug {slug!r} is already loaded")])
        problems = []
        for name, spec in contract.operations.items():
            handler = self._handlers.get(spec.handler_type)
            field = f"operations.{name}.handler_type"
            if handler is None:
                problems.append(
                    ContractProblem(
                        path or slug,
                        field,
                        f"handler {spec.handler_type.value!r} is not enabled in the runtime host contract",
                    )
                )
                continue
            problem = handler.validate_operation(name, spec)
            if problem:
                problems.append(ContractProblem(path or slug, f"operations.{name}", problem))
        if problems:
            raise ContractError(problems)
        node = NodeInstance(slug, contract, path)
        self._nodes[slug] = node
        return node

    def add_nodes(self, nodes: Iterable[LoadedNode]) -> None:
        problems: list[ContractProblem] = []
        for loaded in nodes:
            try:
                self.add_node(loaded.slug, loaded.contract, loaded.path)
            except ContractError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ContractError(problems)

    @property
    def nodes(self) -> Mapping[str, NodeInstance]:
        return self._nodes

    @property
    def handlers(self) -> Mapping[EnumHandlerType, ProtocolHandler]:
        return self._handlers

    # -- lifecycle ----------------------------------------------------------------------

    async def initialize(self) -> None:
        """Initialize every registered handler, concurrently; idempotent."""
        if self._initialized:
            return
        await asyncio.gather(*(handler.initialize() for handler in self._handlers.values()))
        self._initialized = True

    async def shutdown(self) -> None:
        results = await asyncio.gather(
            *(handler.shutdown() for handler in self._handlers.values()), return_exceptions=True
        )
        for kind, result in zip(self._handlers, results, strict=True):
            if isinstance(result, BaseException):
                logger.error("handler shutdown failed", extra={"handler": kind.value, "error": repr(result)})
        self._initialized = False

    async def health(self) -> list[ModelHandlerHealth]:
        return list(await asyncio.gather(*(h.health_check() for h in self._handlers.values())))

    # -- routing -----------------------------------------------------------------------

    async def route_envelope(self, envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        """Execute one envelope and return its reply; never raises for a bad envelope."""
        if envelope.is_response:
            return envelope.reply_error(EnumErrorCode.INVALID_ENVELOPE, "reply envelopes are not routed")
        remaining = envelope.remaining_seconds()
        if remaining is not None and remaining <= 0:
            return envelope.reply_error(
                EnumErrorCode.EXPIRED, f"envelope expired {-remaining:.3f}s before it could run"
            )
        if envelope.target_node is None:
            return await self._broadcast(envelope, remaining)
        node = self._nodes.get(envelope.target_node)
        if node is None:
            return envelope.reply_error(EnumErrorCode.UNKNOWN_NODE, f"no node {envelope.target_node!r} on this host")
        return await self._execute(node, envelope, remaining)

    async def _execute(
        self, node: NodeInstance, envelope: ModelOnexEnvelope, remaining: float | None
    ) -> ModelOnexEnvelope:
        try:
            spec = node.resolve(envelope)
        except OperationError as exc:
            return envelope.reply_error(exc.code, exc.message, exc.details)
        if self.shadow and spec.side_effects is not EnumSideEffects.NONE:
            return envelope.reply_error(
                EnumErrorCode.SHADOW_SKIPPED,
                f"shadow mode: {envelope.operation!r} has side_effects={spec.side_effects.value} and was not run",
                {
                    "would_run": {
                        "node": node.slug,
                        "operation": envelope.operation,
                        "handler_type": spec.handler_type.value,
                        "action": spec.action or envelope.operation,
                        "payload": envelope.payload,
                    }
                },
            )
        handler = self._handlers.get(spec.handler_type)
        if handler is None:
            return envelope.reply_error(
                EnumErrorCode.HANDLER_UNAVAILABLE, f"handler {spec.handler_type.value!r} is not enabled on this host"
            )
        context = OperationContext(
            node_slug=node.slug,
            operation=envelope.operation,
            spec=spec,
            deadline=None if remaining is None else time.monotonic() + remaining,
            node_config=node.contract.config,
            envelope=envelope,
        )
        try:
            if remaining is None:
                reply = await handler.execute(envelope, context)
            else:
                async with asyncio.timeout(remaining):
                    reply = await handler.execute(envelope, context)
        except Exception as exc:  # a broken handler must not take the host down
            return reply_for_exception(envelope, exc, where=f"{spec.handler_type.value} handler ({envelope.operation})")
        if reply.correlation_id != envelope.correlation_id or reply.causation_id != envelope.envelope_id:
            reply = reply.model_copy(
                update={"correlation_id": envelope.correlation_id, "causation_id": envelope.envelope_id}
            )
        return reply

    async def _broadcast(self, envelope: ModelOnexEnvelope, remaining: float | None) -> ModelOnexEnvelope:
        targets = [node for node in self._nodes.values() if node.declares(envelope)]
        if not targets:
            return envelope.reply_error(
                EnumErrorCode.UNKNOWN_OPERATION,
                f"broadcast: no node declares {envelope.operation!r} for handler {envelope.handler_type.value!r}",
            )
        replies = await asyncio.gather(*(self._execute(node, envelope, remaining) for node in targets))
        results = {node.slug: reply.model_dump(mode="json") for node, reply in zip(targets, replies, strict=True)}
        failed = [reply for reply in replies if not reply.success]
        if not failed:
            return envelope.reply_success({"results": results})
        first = failed[0]
        return envelope.reply_error(
            first.error_code or EnumErrorCode.INTERNAL_ERROR,
            f"broadcast: {len(failed)} of {len(replies)} nodes failed; first: {first.error}",
            {"results": results},
        )
