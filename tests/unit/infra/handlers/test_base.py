from __future__ import annotations

import logging
from typing import Any

import pytest

from onex_host.core.contracts import ModelOperationSpec
from onex_host.core.enums import EnumErrorCode, EnumHandlerType
from onex_host.core.errors import OperationError
from onex_host.core.operation import OperationContext
from onex_host.infra.handlers.base import BaseHandler, HandlerConfigModel, PayloadModel, action, parse_payload
from tests.support.builders.factories import command


class Config(HandlerConfigModel):
    fail_probe: bool = False


class Payload(PayloadModel):
    count: int
    names: list[str] = []


class ToyHandler(BaseHandler[Config]):
    handler_type = EnumHandlerType.LOCAL
    config_model = Config

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self.opened = self.closed = 0

    async def _open(self, config: Config) -> None:
        self.opened += 1

    async def _close(self) -> None:
        self.closed += 1

    @action("count", payload=Payload)
    async def _count(self, request: Payload, context: OperationContext) -> dict[str, Any]:
        return {"count": request.count}

    @action("crash")
    async def _crash(self, payload: dict[str, Any], context: OperationContext) -> dict[str, Any]:
        raise KeyError("internal detail")

    @action("slow")
    async def _slow(self, payload: dict[str, Any], context: OperationContext) -> dict[str, Any]:
        raise TimeoutError

    async def _probe(self) -> dict[str, Any]:
        if self.config.fail_probe:
            raise ConnectionError("upstream down")
        return {"version": "1"}


def ctx(action_name: str) -> OperationContext:
    return OperationContext("n", action_name, ModelOperationSpec(handler_type=EnumHandlerType.LOCAL))


async def test_lifecycle_is_idempotent() -> None:
    handler = ToyHandler()
    await handler.initialize()
    await handler.initialize()
    await handler.shutdown()
    await handler.shutdown()
    assert (handler.opened, handler.closed) == (1, 1)


async def test_payload_problems_name_every_field() -> None:
    handler = ToyHandler()
    await handler.initialize()
    reply = await handler.execute(command(payload={"names": "x", "extra": 1}), ctx("count"))
    assert reply.error_code == EnumErrorCode.INVALID_PAYLOAD
    assert reply.error == (
        "payload.count: required field is missing; payload.names: Input should be a valid list; "
        "payload.extra: unknown field"
    )


async def test_a_payload_that_is_not_an_object() -> None:
    with pytest.raises(Exception, match="payload: Input should be a valid dictionary"):
        parse_payload(Payload, [1])  # type: ignore[arg-type]


async def test_unexpected_exceptions_become_internal_errors_without_detail(caplog: pytest.LogCaptureFixture) -> None:
    handler = ToyHandler()
    await handler.initialize()
    request = command()
    with caplog.at_level(logging.ERROR):
        reply = await handler.execute(request, ctx("crash"))
    assert reply.error_code == EnumErrorCode.INTERNAL_ERROR
    assert "KeyError" in (reply.error or "")
    assert "internal detail" not in (reply.error or "")
    assert "handler raised" in caplog.text


async def test_timeouts_become_timeout_replies() -> None:
    handler = ToyHandler()
    await handler.initialize()
    assert (await handler.execute(command(), ctx("slow"))).error_code == EnumErrorCode.TIMEOUT


async def test_health_turns_unhealthy_when_the_probe_fails() -> None:
    handler = ToyHandler(Config(fail_probe=True))
    await handler.initialize()
    health = await handler.health_check()
    assert (health.healthy, health.details) == (False, {"error": "ConnectionError: upstream down"})
    assert handler.describe_failure(TimeoutError()) == "TimeoutError"


def test_validate_operation_names_known_actions() -> None:
    problem = ToyHandler().validate_operation("x", ModelOperationSpec(handler_type=EnumHandlerType.LOCAL))
    assert problem == "local handler has no action 'x' (known: count, crash, slow)"
    assert ToyHandler().validate_operation("count", ModelOperationSpec(handler_type=EnumHandlerType.LOCAL)) is None


class TranslatingHandler(ToyHandler):
    def translate_error(self, exc: Exception) -> OperationError | None:
        if isinstance(exc, KeyError):
            return OperationError(EnumErrorCode.NOT_FOUND, "no such key", {"key": "k"})
        return None


async def test_translate_error_maps_client_exceptions_in_one_place() -> None:
    handler = TranslatingHandler()
    await handler.initialize()
    reply = await handler.execute(command(), ctx("crash"))
    assert (reply.error_code, reply.error, reply.payload) == (EnumErrorCode.NOT_FOUND, "no such key", {"key": "k"})
