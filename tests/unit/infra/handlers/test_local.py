from __future__ import annotations

import time

import pytest

from onex_host.core.contracts import ModelOperationSpec
from onex_host.core.enums import EnumErrorCode, EnumHandlerType
from onex_host.core.errors import ContractError
from onex_host.core.operation import OperationContext
from onex_host.infra.handlers.local import LocalHandler
from tests.support.builders.factories import command


def context(operation: str, deadline: float | None = None) -> OperationContext:
    return OperationContext("echo", operation, ModelOperationSpec(handler_type=EnumHandlerType.LOCAL), deadline)


@pytest.fixture
async def handler() -> LocalHandler:
    handler = LocalHandler.from_config({"max_sleep_seconds": 0.05})
    await handler.initialize()
    return handler


async def test_echo_returns_the_payload(handler: LocalHandler) -> None:
    reply = await handler.execute(command(payload={"a": [1]}), context("echo"))
    assert reply.payload == {"a": [1]}


async def test_sleep_is_capped_by_config(handler: LocalHandler) -> None:
    reply = await handler.execute(command(payload={"seconds": 10, "echo": {"i": 1}}), context("sleep"))
    assert reply.payload == {"slept_seconds": 0.05, "i": 1}


async def test_sleep_past_the_deadline_times_out(handler: LocalHandler) -> None:
    reply = await handler.execute(command(payload={"seconds": 0.05}), context("sleep", time.monotonic() + 0.01))
    assert reply.error_code == EnumErrorCode.TIMEOUT


async def test_sleep_needs_seconds(handler: LocalHandler) -> None:
    reply = await handler.execute(command(payload={}), context("sleep"))
    assert reply.error_code == EnumErrorCode.INVALID_PAYLOAD
    assert reply.error == "payload.seconds: required field is missing"


async def test_fail_uses_the_requested_code(handler: LocalHandler) -> None:
    reply = await handler.execute(command(payload={"code": "timeout", "message": "slow"}), context("fail"))
    assert (reply.error_code, reply.error) == (EnumErrorCode.TIMEOUT, "slow")


async def test_unknown_action(handler: LocalHandler) -> None:
    reply = await handler.execute(command(), context("teleport"))
    assert reply.error_code == EnumErrorCode.UNKNOWN_OPERATION


async def test_before_initialize_and_after_shutdown() -> None:
    handler = LocalHandler()
    assert (await handler.execute(command(), context("echo"))).error_code == EnumErrorCode.NOT_INITIALIZED
    assert (await handler.health_check()).healthy is False
    await handler.initialize()
    assert (await handler.health_check()).healthy is True
    await handler.shutdown()
    await handler.shutdown()
    assert (await handler.execute(command(), context("echo"))).error_code == EnumErrorCode.NOT_INITIALIZED


def test_bad_config_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match=r"max_sleep_seconds: Input should be greater than or equal to 0"):
        LocalHandler.parse_config({"max_sleep_seconds": -1}, "host.yaml")
    with pytest.raises(ContractError, match=r"host\.yaml: colour: unknown field"):
        LocalHandler.parse_config({"colour": "red"}, "host.yaml")
