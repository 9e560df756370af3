"""The consul handler registers services, finds healthy instances and uses KV on a real Consul agent."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from onex_host.core import EnumErrorCode, EnumHandlerType
from tests.support.builders.handlers import HostedNode, hosted_node, local_http_server
from tests.support.doubles.tcp_proxy import TcpProxy

pytestmark = pytest.mark.consul

OPERATIONS: dict[str, dict[str, Any]] = {
    "register": {"action": "register_service", "side_effects": "idempotent"},
    "deregister": {"action": "deregister_service", "side_effects": "idempotent"},
    "discover": {"action": "healthy_instances", "side_effects": "none"},
    "get": {"action": "kv_get", "side_effects": "none"},
    "put": {"action": "kv_put", "side_effects": "idempotent"},
    "delete": {"action": "kv_delete"},
    "get_feature": {"action": "kv_get", "side_effects": "none", "params": {"key_prefix": "onex/features"}},
}


@pytest.fixture
def prefix() -> str:
    return f"onex/t{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def consul(consul_service: Any) -> AsyncIterator[HostedNode]:
    async with hosted_node(
        EnumHandlerType.CONSUL,
        {"url": consul_service.addr, "timeout_seconds": 3, "allowed_check_hosts": ["127.0.0.1"]},
        OPERATIONS,
    ) as node:
        yield node


@pytest.fixture
async def health_endpoints() -> AsyncIterator[TestServer]:
    """/ok answers 200 and /broken 500: what Consul's HTTP checks poll."""

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, text="broken")

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/broken", broken)
    async with local_http_server(app) as server:
        yield server


async def eventually(check: Any, timeout: float = 10.0) -> Any:
    """Poll until ``check()`` returns something truthy: Consul runs checks on its own schedule."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.2)


async def test_registered_instances_are_discovered_only_while_their_check_passes(
    consul: HostedNode, health_endpoints: TestServer
) -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"

    def check(path: str) -> dict[str, Any]:
        return {"http": str(health_endpoints.make_url(path)), "interval": "1s", "timeout": "1s"}

    good = await consul.call(
        "register",
        {
            "name": service,
            "id": f"{service}-1",
            "address": "10.0.0.1",
            "port": 8080,
            "tags": ["v1"],
            "meta": {"zone": "a"},
            "check": check("/ok"),
        },
    )
    bad = await consul.call(
        "register", {"name": service, "id": f"{service}-2", "port": 8081, "check": check("/broken")}
    )
    assert good.success, good.error
    assert bad.payload == {"service_id": f"{service}-2", "registered": True}

    async def healthy() -> list[dict[str, Any]]:
        reply = await consul.call("discover", {"service": service})
        assert reply.success, reply.error
        instances: list[dict[str, Any]] = reply.payload["instances"]
        return instances

    instances = await eventually(healthy)
    assert [(i["id"], i["address"], i["port"], i["tags"], i["meta"]) for i in instances] == [
        (f"{service}-1", "10.0.0.1", 8080, ["v1"], {"zone": "a"})
    ]
    await asyncio.sleep(1.5)  # another check round: the broken instance still stays out
    assert [i["id"] for i in await healthy()] == [f"{service}-1"]
    tagged = await consul.call("discover", {"service": service, "tag": "v2"})
    assert tagged.payload["instances"] == []

    gone = await consul.call("deregister", {"service_id": f"{service}-1"})
    await consul.call("deregister", {"service_id": f"{service}-2"})
    assert gone.success, gone.error
    assert await healthy() == []


async def test_a_ttl_checked_service_is_not_healthy_until_it_reports(consul: HostedNode) -> None:
    service = f"ttl-{uuid.uuid4().hex[:8]}"
    registered = await consul.call("register", {"name": service, "check": {"ttl": "30s"}})
    discovered = await consul.call("discover", {"service": service})
    await consul.call("deregister", {"service_id": service})

    assert registered.payload["service_id"] == service
    assert discovered.payload["instances"] == []


async def test_kv_put_get_delete_with_text_and_binary_values(consul: HostedNode, prefix: str) -> None:
    binary = bytes([0, 255, 1, 254])
    assert (await consul.call("put", {"key": f"{prefix}/text", "value": "héllo", "flags": 7})).success
    assert (
        await consul.call("put", {"key": f"{prefix}/bin", "value_base64": base64.b64encode(binary).decode()})
    ).success

    text = await consul.call("get", {"key": f"{prefix}/text"})
    blob = await consul.call("get", {"key": f"{prefix}/bin"})
    tree = await consul.call("get", {"key": prefix, "recurse": True})

    assert (text.payload["value"], text.payload["value_encoding"], text.payload["flags"]) == ("héllo", "text", 7)
    assert blob.payload["value_encoding"] == "base64"
    assert base64.b64decode(blob.payload["value"]) == binary
    assert sorted(e["key"] for e in tree.payload["entries"]) == [f"{prefix}/bin", f"{prefix}/text"]

    assert (await consul.call("delete", {"key": prefix, "recurse": True})).success
    missing = await consul.call("get", {"key": f"{prefix}/text"})
    assert missing.error_code is EnumErrorCode.NOT_FOUND


async def test_kv_check_and_set_refuses_a_stale_write(consul: HostedNode, prefix: str) -> None:
    created = await consul.call("put", {"key": f"{prefix}/cas", "value": "1", "cas": 0})
    index = (await consul.call("get", {"key": f"{prefix}/cas"})).payload["modify_index"]
    again = await consul.call("put", {"key": f"{prefix}/cas", "value": "2", "cas": 0})
    updated = await consul.call("put", {"key": f"{prefix}/cas", "value": "3", "cas": index})
    stale = await consul.call("put", {"key": f"{prefix}/cas", "value": "4", "cas": index})

    assert created.success
    assert updated.success
    assert again.error_code is EnumErrorCode.UPSTREAM_ERROR
    assert "check-and-set failed" in (again.error or "")
    assert stale.error_code is EnumErrorCode.UPSTREAM_ERROR
    assert (await consul.call("get", {"key": f"{prefix}/cas"})).payload["value"] == "3"


async def test_keys_outside_allowed_prefixes_and_pinned_prefixes_hold(consul_service: Any, prefix: str) -> None:
    config = {"url": consul_service.addr, "allowed_key_prefixes": ["onex"]}
    async with hosted_node(EnumHandlerType.CONSUL, config, OPERATIONS) as node:
        await node.call("put", {"key": "onex/features/dark_mode", "value": "on"})
        inside = await node.call("put", {"key": f"{prefix}/k", "value": "v"})
        outside = await node.call("put", {"key": "other/k", "value": "v"})
        look_alike = await node.call("get", {"key": "onex-admin/k"})
        traversal = await node.call("get", {"key": "onex/../other/k"})
        feature = await node.call("get_feature", {"key": "dark_mode"})
        escape = await node.call("get_feature", {"key": "../../other/k"})

    assert inside.success, inside.error
    assert outside.error_code is EnumErrorCode.FORBIDDEN
    assert "allowed_key_prefixes" in (outside.error or "")
    assert look_alike.error_code is EnumErrorCode.FORBIDDEN
    assert traversal.error_code is EnumErrorCode.INVALID_PAYLOAD
    assert feature.payload["value"] == "on"
    assert escape.error_code is EnumErrorCode.INVALID_PAYLOAD


@pytest.mark.parametrize(
    ("operation", "payload", "fragment"),
    [
        ("register", {}, "payload.name: required field is missing"),
        ("register", {"name": "s", "port": "http"}, "payload.port"),
        ("register", {"name": "s", "check": {"interval": "1s"}}, "exactly one of http, tcp, ttl"),
        ("get", {}, "payload.key: required field is missing"),
        ("put", {"key": "k"}, "exactly one of value, value_base64"),
        ("put", {"key": "k", "value_base64": "***"}, "payload.value_base64"),
        ("discover", {"service": ""}, "payload.service"),
    ],
)
async def test_bad_payloads_are_invalid_payload_replies(
    consul: HostedNode, operation: str, payload: dict[str, Any], fragment: str
) -> None:
    reply = await consul.call(operation, payload)

    assert reply.error_code is EnumErrorCode.INVALID_PAYLOAD
    assert fragment in (reply.error or "")


async def test_health_reports_the_leader(consul: HostedNode) -> None:
    health = await consul.health()

    assert health["healthy"] is True
    assert ":" in health["details"]["leader"]


async def test_the_acl_token_never_appears_in_replies_health_or_logs(
    consul_service: Any, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = f"onex-consul-token-{uuid.uuid4().hex}"
    proxy = TcpProxy("127.0.0.1", httpx.URL(consul_service.addr).port or 8500)
    await proxy.start()
    config = {"url": f"http://127.0.0.1:{proxy.port}", "token": token, "timeout_seconds": 2}
    published: list[str] = []
    async with hosted_node(EnumHandlerType.CONSUL, config, OPERATIONS) as node:
        published.append((await node.call("put", {"key": f"{prefix}/k", "value": "v"})).model_dump_json())
        published.append((await node.call("get", {"key": f"{prefix}/missing"})).model_dump_json())
        published.append(str(await node.health()))
        await proxy.stop()
        published.append((await node.call("get", {"key": f"{prefix}/k"})).model_dump_json())
        published.append(str(await node.health()))

    assert "unreachable" in published[-2]
    for text in [*published, caplog.text]:
        assert token not in text


async def test_a_consul_that_goes_away_gives_error_replies_and_health_recovers(
    consul_service: Any, prefix: str
) -> None:
    proxy = TcpProxy("127.0.0.1", httpx.URL(consul_service.addr).port or 8500)
    await proxy.start()
    async with hosted_node(
        EnumHandlerType.CONSUL, {"url": f"http://127.0.0.1:{proxy.port}", "timeout_seconds": 2}, OPERATIONS
    ) as node:
        assert (await node.call("put", {"key": f"{prefix}/k", "value": "v"})).success

        await proxy.stop()
        started = time.monotonic()
        down = await node.call("get", {"key": f"{prefix}/k"}, ttl=3)
        health = await node.health()
        assert time.monotonic() - started < 5
        assert down.error_code in (EnumErrorCode.UPSTREAM_UNAVAILABLE, EnumErrorCode.TIMEOUT), down.error
        assert health["healthy"] is False

        await proxy.start()
        assert (await node.health())["healthy"] is True
        assert (await node.call("get", {"key": f"{prefix}/k"})).payload["value"] == "v"
    await proxy.stop()
