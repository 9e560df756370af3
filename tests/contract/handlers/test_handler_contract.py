"""The contract every registered handler keeps, checked once for all of them.

Driven by ``HANDLER_REGISTRY``: a handler added there without a case below
fails ``test_every_registered_handler_has_a_case``; with one, it gets every
check here for free. Cases use configs that need no server to initialize
(``_open`` must not require the upstream); only the "healthy" check talks
to a real upstream, through the same service fixtures as the integration
tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from onex_host.core import (
    ContractError,
    EnumErrorCode,
    EnumHandlerType,
    ModelOnexEnvelope,
    ModelOperationSpec,
    OperationContext,
)
from onex_host.infra.handlers.base import BaseHandler
from onex_host.infra.wiring import HANDLER_REGISTRY
from onex_host.spi import ProtocolHandler
from tests.support.doubles.fake_openai import MODEL, fake_openai

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens on loopback


LiveConfig = Callable[[pytest.FixtureRequest], AbstractAsyncContextManager[dict[str, Any]]]


@dataclass(frozen=True)
class HandlerCase:
    """What the suite needs to know about one handler.

    ``live_config`` provides a config whose upstream is really there, for as
    long as the context lasts.
    """

    config: dict[str, Any]
    operation: dict[str, Any]
    missing_field: str
    live_config: LiveConfig
    marks: tuple[pytest.MarkDecorator, ...] = field(default=())


@asynccontextmanager
async def _no_upstream(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    yield {}


@asynccontextmanager
async def _postgres(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    pg = request.getfixturevalue("postgres_service")
    yield {"dsn": pg.dsn, "pool_min_size": 0, "pool_max_size": 1}


@asynccontextmanager
async def _vault(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    vault = request.getfixturevalue("vault_service")
    yield {"url": vault.addr, "token": vault.token}


@asynccontextmanager
async def _consul(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    yield {"url": request.getfixturevalue("consul_service").addr}


@asynccontextmanager
async def _openai_compatible(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """A local OpenAI-compatible server: no real LLM is reachable from here."""
    async with fake_openai() as api:
        yield {"base_url": api.base_url, "model": MODEL, "api_key": api.api_key}


CASES: dict[EnumHandlerType, HandlerCase] = {
    EnumHandlerType.LOCAL: HandlerCase(
        config={},
        operation={"action": "sleep"},
        missing_field="seconds",
        live_config=_no_upstream,
    ),
    EnumHandlerType.HTTP: HandlerCase(
        config={"allowed_hosts": ["127.0.0.1"]},
        operation={"action": "request"},
        missing_field="url",
        live_config=_no_upstream,
    ),
    EnumHandlerType.DB: HandlerCase(
        config={"host": "127.0.0.1", "port": 9, "connect_timeout_seconds": 1},
        operation={"action": "transaction", "params": {"statements": {"one": "SELECT 1"}}},
        missing_field="steps",
        live_config=_postgres,
        marks=(pytest.mark.postgres,),
    ),
    EnumHandlerType.VAULT: HandlerCase(
        config={"url": UNREACHABLE, "token": "unused", "timeout_seconds": 1},
        operation={"action": "get_secret"},
        missing_field="path",
        live_config=_vault,
        marks=(pytest.mark.vault,),
    ),
    EnumHandlerType.CONSUL: HandlerCase(
        config={"url": UNREACHABLE, "timeout_seconds": 1},
        operation={"action": "kv_get"},
        missing_field="key",
        live_config=_consul,
        marks=(pytest.mark.consul,),
    ),
    EnumHandlerType.LLM: HandlerCase(
        config={"base_url": UNREACHABLE + "/v1", "model": "m", "timeout_seconds": 1},
        operation={"action": "chat"},
        missing_field="messages",
        live_config=_openai_compatible,
        marks=(pytest.mark.llm,),
    ),
}


def _cases(*, with_marks: bool = False) -> list[Any]:
    return [
        pytest.param(kind, marks=CASES[kind].marks if with_marks else (), id=f"{kind.value}_handler")
        for kind in HANDLER_REGISTRY
        if kind in CASES
    ]


def _handler(kind: EnumHandlerType, config: Mapping[str, Any] | None = None) -> BaseHandler[Any]:
    return HANDLER_REGISTRY[kind].from_config(CASES[kind].config if config is None else config)


def _context(kind: EnumHandlerType) -> OperationContext:
    spec = ModelOperationSpec.model_validate({"handler_type": kind.value, **CASES[kind].operation})
    return OperationContext(node_slug="suite", operation="op", spec=spec)


def _envelope(kind: EnumHandlerType, payload: dict[str, Any]) -> ModelOnexEnvelope:
    return ModelOnexEnvelope(
        source_node="suite", target_node="suite", handler_type=kind, operation="op", payload=payload
    )


def test_every_registered_handler_has_a_case() -> None:
    assert set(HANDLER_REGISTRY) <= set(CASES), "add a HandlerCase for every handler in HANDLER_REGISTRY"


@pytest.mark.parametrize("kind", _cases())
def test_handler_type_is_the_registry_key_and_an_enum(kind: EnumHandlerType) -> None:
    handler = _handler(kind)

    assert isinstance(handler.handler_type, EnumHandlerType)
    assert handler.handler_type is kind
    assert isinstance(handler, ProtocolHandler)


@pytest.mark.parametrize("kind", _cases())
def test_the_case_operation_is_valid_and_an_unknown_action_is_not(kind: EnumHandlerType) -> None:
    handler = _handler(kind)
    bogus = ModelOperationSpec(handler_type=kind, action="no_such_action")

    assert handler.validate_operation("op", _context(kind).spec) is None
    assert "no action 'no_such_action'" in (handler.validate_operation("op", bogus) or "")


@pytest.mark.parametrize("kind", _cases())
def test_an_unknown_config_key_is_a_contract_error_naming_it(kind: EnumHandlerType) -> None:
    with pytest.raises(ContractError, match="no_such_setting: unknown field"):
        HANDLER_REGISTRY[kind].parse_config({**CASES[kind].config, "no_such_setting": 1})


@pytest.mark.parametrize("kind", _cases())
async def test_initialize_and_shutdown_are_idempotent(kind: EnumHandlerType) -> None:
    handler = _handler(kind)
    states: list[bool] = []

    await handler.initialize()
    await handler.initialize()
    states.append(handler.initialized)
    await handler.shutdown()
    await handler.shutdown()
    states.append(handler.initialized)
    await handler.initialize()  # and it comes back after a shutdown
    states.append(handler.initialized)
    await handler.shutdown()

    assert states == [True, False, True]


@pytest.mark.parametrize("kind", _cases())
async def test_execute_before_initialize_is_a_not_initialized_reply(kind: EnumHandlerType) -> None:
    reply = await _handler(kind).execute(_envelope(kind, {}), _context(kind))

    assert reply.is_response
    assert reply.success is False
    assert reply.error_code is EnumErrorCode.NOT_INITIALIZED


@pytest.mark.parametrize("kind", _cases())
async def test_a_missing_required_field_is_an_invalid_payload_reply_naming_it(kind: EnumHandlerType) -> None:
    handler = _handler(kind)
    await handler.initialize()
    try:
        reply = await handler.execute(_envelope(kind, {}), _context(kind))
    finally:
        await handler.shutdown()

    assert reply.error_code is EnumErrorCode.INVALID_PAYLOAD
    assert f"payload.{CASES[kind].missing_field}" in (reply.error or "")


@pytest.mark.parametrize("kind", _cases())
async def test_an_unknown_payload_field_is_an_invalid_payload_reply_naming_it(kind: EnumHandlerType) -> None:
    handler = _handler(kind)
    await handler.initialize()
    try:
        reply = await handler.execute(_envelope(kind, {"no_such_field": 1}), _context(kind))
    finally:
        await handler.shutdown()

    assert reply.error_code is EnumErrorCode.INVALID_PAYLOAD
    assert "payload.no_such_field: unknown field" in (reply.error or "")


@pytest.mark.parametrize("kind", _cases())
async def test_health_before_initialize_is_unhealthy_with_a_reason(kind: EnumHandlerType) -> None:
    health = await _handler(kind).health_check()

    assert health.handler_type is kind
    assert health.healthy is False
    assert health.details["error"]


@pytest.mark.parametrize("kind", _cases(with_marks=True))
async def test_health_after_initialize_is_healthy_with_details(
    kind: EnumHandlerType, request: pytest.FixtureRequest
) -> None:
    async with CASES[kind].live_config(request) as config:
        handler = _handler(kind, config)
        await handler.initialize()
        try:
            health = await handler.health_check()
        finally:
            await handler.shutdown()

    assert health.healthy is True, health.details
    assert health.details
