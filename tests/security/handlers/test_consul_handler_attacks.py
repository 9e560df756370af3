"""Attacks on the consul handler through what a command may carry, against a real Consul agent."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from onex_host.core import EnumErrorCode, EnumHandlerType
from tests.support.builders.handlers import HostedNode, hosted_node

pytestmark = pytest.mark.consul


@pytest.fixture
def root() -> str:
    return f"sec{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def agent(consul_service: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=consul_service.addr, trust_env=False) as client:
        yield client


@pytest.fixture
async def neighbours(agent: httpx.AsyncClient, root: str) -> dict[str, str]:
    """Keys beside the host's prefix ``ROOT/infra`` that share its spelling but not its path."""
    keys = {
        f"{root}/infra/app": "mine",
        f"{root}/infra-admin/secret": "not mine",
        f"{root}/infrastructure/x": "not mine either",
    }
    for key, value in keys.items():
        assert (await agent.put(f"/v1/kv/{key}", content=value.encode())).json() is True
    return keys


@pytest.fixture
async def consul(consul_service: Any, root: str) -> AsyncIterator[HostedNode]:
    prefix = f"{root}/infra"
    operations = {
        "get": {"action": "kv_get", "side_effects": "none", "params": {"key_prefix": prefix}},
        "delete": {"action": "kv_delete", "params": {"key_prefix": prefix}},
        "register": {"action": "register_service", "side_effects": "idempotent"},
    }
    config = {"url": consul_service.addr, "timeout_seconds": 3, "allowed_key_prefixes": [prefix]}
    async with hosted_node(EnumHandlerType.CONSUL, config, operations) as node:
        yield node


async def _exists(agent: httpx.AsyncClient, key: str) -> bool:
    return (await agent.get(f"/v1/kv/{key}")).status_code == 200


@pytest.mark.parametrize("key", ["", "/", "."])
async def test_a_recursive_read_at_the_prefix_boundary_stays_inside(
    consul: HostedNode, neighbours: dict[str, str], root: str, key: str
) -> None:
    reply = await consul.call("get", {"key": key, "recurse": True})

    if key == ".":
        assert reply.error_code is EnumErrorCode.INVALID_PAYLOAD
        return
    assert reply.success, reply.error
    assert [entry["key"] for entry in reply.payload["entries"]] == [f"{root}/infra/app"]


async def test_a_recursive_delete_at_the_prefix_boundary_stays_inside(
    consul: HostedNode, agent: httpx.AsyncClient, neighbours: dict[str, str], root: str
) -> None:
    reply = await consul.call("delete", {"key": "", "recurse": True})

    assert reply.success, reply.error
    assert not await _exists(agent, f"{root}/infra/app")
    assert await _exists(agent, f"{root}/infra-admin/secret")
    assert await _exists(agent, f"{root}/infrastructure/x")


@pytest.mark.parametrize("key", ["%2e%2e/infra-admin/secret", "a%2f..%2f..", "..", "%252e%252e/x"])
async def test_encoded_traversal_in_a_key_is_refused(consul: HostedNode, neighbours: dict[str, str], key: str) -> None:
    reply = await consul.call("get", {"key": key})

    assert reply.error_code is EnumErrorCode.INVALID_PAYLOAD


@pytest.mark.parametrize(
    "check",
    [
        {"http": "http://169.254.169.254/latest/meta-data/", "interval": "10s"},
        {"http": "http://127.0.0.1:1/", "interval": "10s"},
        {"tcp": "10.0.0.1:22", "interval": "10s"},
        {"http": "gopher://127.0.0.1/", "interval": "10s"},
    ],
)
async def test_a_health_check_cannot_point_the_agent_anywhere(
    consul: HostedNode, agent: httpx.AsyncClient, root: str, check: dict[str, str]
) -> None:
    name = f"{root}-svc"
    reply = await consul.call("register", {"name": name, "check": check})

    assert reply.error_code in (EnumErrorCode.FORBIDDEN, EnumErrorCode.INVALID_PAYLOAD)
    assert name not in (await agent.get("/v1/agent/services")).json()


async def test_ttl_checks_need_no_allowance(consul: HostedNode, agent: httpx.AsyncClient, root: str) -> None:
    name = f"{root}-ttl"
    reply = await consul.call("register", {"name": name, "check": {"ttl": "30s"}})
    try:
        assert reply.success, reply.error
        assert name in (await agent.get("/v1/agent/services")).json()
    finally:
        await agent.put(f"/v1/agent/service/deregister/{name}")
