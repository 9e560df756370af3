from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from onex_host.core.contracts import ModelNodeContract, ModelOperationSpec
from onex_host.core.enums import EnumErrorCode, EnumHandlerType, EnumSideEffects
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.errors import ContractError
from onex_host.core.operation import ModelHandlerHealth, OperationContext
from onex_host.infra.handlers.local import LocalHandler
from onex_host.runtime.node_runtime import NodeRuntime
from tests.support.builders.factories import command, echo_node, echo_runtime


class RecordingHandler:
    """A handler that records what reached it, to prove what did not."""

    handler_type = EnumHandlerType.LOCAL

    def __init__(self, reply: str = "ok") -> None:
        self.calls: list[ModelOnexEnvelope] = []
        self.contexts: list[OperationContext] = []
        self._reply = reply

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        raise RuntimeError("shutdown failure must be logged, not raised")

    async def execute(self, envelope: ModelOnexEnvelope, context: OperationContext) -> ModelOnexEnvelope:
        self.calls.append(envelope)
        self.contexts.append(context)
        if self._reply == "raise":
            raise ValueError("handler bug")
        if self._reply == "hang":
            await asyncio.sleep(60)
        if self._reply == "unlinked":
            return command().reply_success({"wrong": "links"})
        return envelope.reply_success({"handled": True})

    async def health_check(self) -> ModelHandlerHealth:
        return ModelHandlerHealth(handler_type=self.handler_type, healthy=True)

    def validate_operation(self, operation: str, spec: ModelOperationSpec) -> str | None:
        return None


def runtime_with(handler: RecordingHandler, *, shadow: bool = False) -> NodeRuntime:
    runtime = NodeRuntime(shadow=shadow)
    runtime.register_handler(handler)
    runtime.add_node("echo", echo_node())
    return runtime


async def test_routes_by_target_node_and_links_the_reply() -> None:
    runtime = await echo_runtime("echo", "mirror")
    request = command(target="mirror", payload={"x": 1})
    reply = await runtime.route_envelope(request)
    assert reply.success is True
    assert reply.source_node == "mirror"
    assert reply.payload == {"x": 1}
    assert (reply.correlation_id, reply.causation_id) == (request.correlation_id, request.envelope_id)


async def test_unknown_node_is_an_error_reply() -> None:
    reply = await (await echo_runtime()).route_envelope(command(target="ghost"))
    assert (reply.success, reply.error_code) == (False, EnumErrorCode.UNKNOWN_NODE)
    assert "'ghost'" in (reply.error or "")


async def test_undeclared_operation_never_reaches_a_handler() -> None:
    handler = RecordingHandler()
    reply = await runtime_with(handler).route_envelope(command(operation="drop_table"))
    assert reply.error_code == EnumErrorCode.UNKNOWN_OPERATION
    assert "declared: echo, fail, sleep" in (reply.error or "")
    assert handler.calls == []


async def test_operation_declared_for_another_handler_never_reaches_a_handler() -> None:
    handler = RecordingHandler()
    reply = await runtime_with(handler).route_envelope(command(handler_type=EnumHandlerType.DB))
    assert reply.error_code == EnumErrorCode.HANDLER_MISMATCH
    assert handler.calls == []


async def test_expired_envelope_is_not_executed() -> None:
    handler = RecordingHandler()
    stale = command(timestamp=datetime.now(UTC) - timedelta(seconds=10), ttl_seconds=1)
    reply = await runtime_with(handler).route_envelope(stale)
    assert reply.error_code == EnumErrorCode.EXPIRED
    assert handler.calls == []


async def test_remaining_ttl_becomes_the_handler_deadline() -> None:
    handler = RecordingHandler(reply="hang")
    reply = await runtime_with(handler).route_envelope(command(ttl_seconds=0.1))
    assert reply.error_code == EnumErrorCode.TIMEOUT
    assert handler.contexts[0].deadline is not None
    assert handler.contexts[0].timeout(30) <= 0.1


async def test_a_raising_handler_becomes_an_error_reply_logged_with_the_correlation_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    request = command()
    with caplog.at_level(logging.ERROR):
        reply = await runtime_with(RecordingHandler(reply="raise")).route_envelope(request)
    assert reply.error_code == EnumErrorCode.INTERNAL_ERROR
    assert str(request.correlation_id) in (reply.error or "")
    assert any(getattr(r, "correlation_id", None) == str(request.correlation_id) for r in caplog.records)


async def test_a_reply_with_wrong_links_is_corrected() -> None:
    request = command()
    reply = await runtime_with(RecordingHandler(reply="unlinked")).route_envelope(request)
    assert (reply.correlation_id, reply.causation_id) == (request.correlation_id, request.envelope_id)


async def test_replies_are_not_routed() -> None:
    reply = await (await echo_runtime()).route_envelope(command().reply_success())
    assert reply.error_code == EnumErrorCode.INVALID_ENVELOPE


async def test_broadcast_runs_on_every_declaring_node() -> None:
    runtime = await echo_runtime("a", "b")
    reply = await runtime.route_envelope(command(target=None, payload={"v": 1}))
    assert reply.success is True
    assert set(reply.payload["results"]) == {"a", "b"}
    assert all(r["payload"] == {"v": 1} for r in reply.payload["results"].values())


async def test_broadcast_fails_if_any_node_fails() -> None:
    runtime = await echo_runtime("a", "b")
    reply = await runtime.route_envelope(command(target=None, operation="fail", payload={"code": "forbidden"}))
    assert (reply.success, reply.error_code) == (False, EnumErrorCode.FORBIDDEN)
    assert "2 of 2 nodes failed" in (reply.error or "")


async def test_broadcast_without_a_declaring_node() -> None:
    reply = await (await echo_runtime()).route_envelope(command(target=None, operation="nothing"))
    assert reply.error_code == EnumErrorCode.UNKNOWN_OPERATION


async def test_shadow_mode_skips_operations_with_side_effects() -> None:
    handler = RecordingHandler()
    runtime = NodeRuntime(shadow=True)
    runtime.register_handler(handler)
    runtime.add_node("writer", echo_node("writer", EnumSideEffects.EXTERNAL))
    runtime.add_node("reader", echo_node("reader", EnumSideEffects.NONE))
    skipped = await runtime.route_envelope(command(target="writer", payload={"row": 1}))
    assert skipped.error_code == EnumErrorCode.SHADOW_SKIPPED
    assert skipped.payload["would_run"]["payload"] == {"row": 1}
    ran = await runtime.route_envelope(command(target="reader"))
    assert ran.success is True
    assert [c.target_node for c in handler.calls] == ["reader"]


def test_a_node_needing_a_missing_handler_is_refused() -> None:
    runtime = NodeRuntime()
    contract = ModelNodeContract(name="db_node", operations={"q": ModelOperationSpec(handler_type=EnumHandlerType.DB)})
    with pytest.raises(ContractError, match=r"operations\.q\.handler_type: handler 'db' is not enabled"):
        runtime.add_node("db_node", contract)


def test_an_operation_the_handler_cannot_run_is_refused() -> None:
    runtime = NodeRuntime()
    runtime.register_handler(LocalHandler())
    contract = ModelNodeContract(
        name="n", operations={"x": ModelOperationSpec(handler_type=EnumHandlerType.LOCAL, action="teleport")}
    )
    with pytest.raises(ContractError, match="local handler has no action 'teleport'"):
        runtime.add_node("n", contract)


def test_duplicate_registrations_are_refused() -> None:
    runtime = NodeRuntime()
    runtime.register_handler(LocalHandler())
    with pytest.raises(ValueError, match="already registered"):
        runtime.register_handler(LocalHandler())
    runtime.add_node("echo", echo_node())
    with pytest.raises(ContractError, match="already loaded"):
        runtime.add_node("echo", echo_node())


async def test_shutdown_failures_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    runtime = runtime_with(RecordingHandler())
    await runtime.initialize()
    await runtime.initialize()
    with caplog.at_level(logging.ERROR):
        await runtime.shutdown()
    assert "handler shutdown failed" in caplog.text
    assert [h.healthy for h in await runtime.health()] == [True]
