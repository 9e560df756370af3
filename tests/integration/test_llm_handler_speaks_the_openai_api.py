"""The llm handler talks to an OpenAI-compatible server (a local one: no real LLM is reachable here)."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from onex_host.core import EnumErrorCode, EnumHandlerType
from tests.support.builders.handlers import HostedNode, hosted_node
from tests.support.doubles.fake_openai import EMBEDDING_MODEL, MODEL, FakeOpenAI, fake_openai
from tests.support.doubles.tcp_proxy import TcpProxy

pytestmark = pytest.mark.llm

OPERATIONS: dict[str, dict[str, Any]] = {
    "chat": {"action": "chat", "side_effects": "none"},
    "embed": {"action": "embed", "side_effects": "none"},
    "summarize": {"action": "chat", "side_effects": "none", "params": {"model": "summarizer-2", "temperature": 0}},
}


@pytest.fixture
async def api() -> AsyncIterator[FakeOpenAI]:
    async with fake_openai(api_key=f"sk-onex-{uuid.uuid4().hex}") as server:
        yield server


def llm_config(api: FakeOpenAI, **overrides: Any) -> dict[str, Any]:
    return {
        "base_url": api.base_url,
        "model": MODEL,
        "embedding_model": EMBEDDING_MODEL,
        "api_key": api.api_key,
        "timeout_seconds": 2,
        "max_tokens": 256,
        **overrides,
    }


@pytest.fixture
async def llm(api: FakeOpenAI) -> AsyncIterator[HostedNode]:
    async with hosted_node(EnumHandlerType.LLM, llm_config(api), OPERATIONS) as node:
        yield node


async def test_chat_returns_the_completion_text_and_usage(llm: HostedNode, api: FakeOpenAI) -> None:
    reply = await llm.call(
        "chat",
        {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], "max_tokens": 50},
    )

    assert reply.success, reply.error
    assert reply.payload["content"] == "echo: hi"
    assert reply.payload["finish_reason"] == "stop"
    assert reply.payload["model"] == MODEL
    assert reply.payload["usage"]["total_tokens"] == 3
    assert api.requests[-1]["max_tokens"] == 50


async def test_the_config_caps_max_tokens_and_fixes_the_model(llm: HostedNode, api: FakeOpenAI) -> None:
    defaulted = await llm.call("chat", {"messages": [{"role": "user", "content": "x"}]})
    too_many = await llm.call("chat", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 10_000})
    model_in_payload = await llm.call("chat", {"messages": [{"role": "user", "content": "x"}], "model": "gpt-big"})

    assert defaulted.success
    assert api.requests[0]["max_tokens"] == 256
    assert too_many.error_code is EnumErrorCode.INVALID_PAYLOAD
    assert "exceeds this host's limit 256" in (too_many.error or "")
    assert model_in_payload.error_code is EnumErrorCode.INVALID_PAYLOAD
    assert len(api.requests) == 1  # refused requests never reached the API


async def test_contract_params_pick_the_model_and_pin_fields(llm: HostedNode, api: FakeOpenAI) -> None:
    reply = await llm.call("summarize", {"messages": [{"role": "user", "content": "long text"}]})
    override = await llm.call("summarize", {"messages": [{"role": "user", "content": "x"}], "temperature": 1.5})

    assert reply.payload["model"] == "summarizer-2"
    assert api.requests[0]["temperature"] == 0
    assert override.error_code is EnumErrorCode.FORBIDDEN


async def test_embeddings_come_back_in_input_order(llm: HostedNode, api: FakeOpenAI) -> None:
    many = await llm.call("embed", {"input": ["a", "bbb"]})
    one = await llm.call("embed", {"input": "cc"})

    assert many.success, many.error
    assert many.payload["embeddings"] == [[1.0, 0.0, 0.5], [3.0, 1.0, 0.5]]
    assert many.payload["model"] == EMBEDDING_MODEL
    assert one.payload["embeddings"] == [[2.0, 0.0, 0.5]]


@pytest.mark.parametrize(
    ("content", "code", "fragment"),
    [
        ("__overloaded__", EnumErrorCode.UPSTREAM_UNAVAILABLE, "429"),
        ("__broken__", EnumErrorCode.UPSTREAM_UNAVAILABLE, "The server had an error"),
    ],
)
async def test_api_errors_become_error_replies_with_the_api_message(
    llm: HostedNode, content: str, code: EnumErrorCode, fragment: str
) -> None:
    reply = await llm.call("chat", {"messages": [{"role": "user", "content": content}]})

    assert reply.error_code is code
    assert fragment in (reply.error or "")
    assert reply.payload["status"] in (429, 500)


async def test_a_wrong_api_key_is_forbidden(api: FakeOpenAI) -> None:
    async with hosted_node(EnumHandlerType.LLM, llm_config(api, api_key="sk-wrong"), OPERATIONS) as node:
        reply = await node.call("chat", {"messages": [{"role": "user", "content": "hi"}]})
        health = await node.health()

    assert reply.error_code is EnumErrorCode.FORBIDDEN
    assert "Incorrect API key" in (reply.error or "")
    assert health["healthy"] is False


async def test_a_slow_model_gives_a_timeout_reply_within_the_timeout(llm: HostedNode) -> None:
    started = time.monotonic()
    reply = await llm.call("chat", {"messages": [{"role": "user", "content": "__slow__"}]})

    assert reply.error_code is EnumErrorCode.TIMEOUT
    assert time.monotonic() - started < 3.5


async def test_an_api_that_is_down_gives_an_unavailable_reply_and_unhealthy_health() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {"base_url": f"http://127.0.0.1:{port}/v1", "model": MODEL, "timeout_seconds": 2}
    async with hosted_node(EnumHandlerType.LLM, config, OPERATIONS) as node:
        reply = await node.call("chat", {"messages": [{"role": "user", "content": "hi"}]})
        health = await node.health()

    assert reply.error_code is EnumErrorCode.UPSTREAM_UNAVAILABLE
    assert health["healthy"] is False


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, "payload.messages: required field is missing"),
        ({"messages": []}, "payload.messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "payload.messages[0].role"),
        ({"messages": [{"role": "user"}]}, "payload.messages[0].content: required field is missing"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 9}, "payload.temperature"),
    ],
)
async def test_bad_payloads_are_invalid_payload_replies(
    llm: HostedNode, payload: dict[str, Any], fragment: str
) -> None:
    reply = await llm.call("chat", payload)

    assert reply.error_code is EnumErrorCode.INVALID_PAYLOAD
    assert fragment in (reply.error or "")


async def test_health_lists_the_model(llm: HostedNode) -> None:
    health = await llm.health()

    assert health["healthy"] is True
    assert health["details"] == {"model": MODEL, "model_listed": True, "models": 2}


async def test_the_api_key_never_appears_in_replies_health_or_logs(
    api: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    published: list[str] = []
    async with hosted_node(EnumHandlerType.LLM, llm_config(api), OPERATIONS) as node:
        for content in ("hi", "__broken__", "__slow__"):
            published.append(
                (await node.call("chat", {"messages": [{"role": "user", "content": content}]})).model_dump_json()
            )
        published.append(str(await node.health()))
    async with hosted_node(EnumHandlerType.LLM, llm_config(api, api_key=api.api_key + "x"), OPERATIONS) as node:
        published.append((await node.call("chat", {"messages": [{"role": "user", "content": "hi"}]})).model_dump_json())
        published.append(str(await node.health()))

    for text in [*published, caplog.text]:
        assert api.api_key not in text


async def test_an_api_that_goes_away_gives_error_replies_and_health_recovers(api: FakeOpenAI) -> None:
    proxy = TcpProxy("127.0.0.1", api.server.port or 0)
    await proxy.start()
    config = llm_config(api, base_url=f"http://127.0.0.1:{proxy.port}/v1")
    async with hosted_node(EnumHandlerType.LLM, config, OPERATIONS) as node:
        assert (await node.call("chat", {"messages": [{"role": "user", "content": "hi"}]})).success
        assert (await node.health())["healthy"] is True

        await proxy.stop()
        down = await node.call("chat", {"messages": [{"role": "user", "content": "hi"}]})
        assert down.error_code is EnumErrorCode.UPSTREAM_UNAVAILABLE, down.error
        assert (await node.health())["healthy"] is False

        await proxy.start()
        assert (await node.health())["healthy"] is True
        back = await node.call("chat", {"messages": [{"role": "user", "content": "again"}]})
        assert back.payload["content"] == "echo: again"
    await proxy.stop()
