"""The vault handler sets, reads, lists and deletes KV v2 secrets on a real OpenBao/Vault server."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from onex_host.core import EnumErrorCode, EnumHandlerType
from tests.support.builders.handlers import HostedNode, hosted_node
from tests.support.doubles.tcp_proxy import TcpProxy

pytestmark = pytest.mark.vault

OPERATIONS: dict[str, dict[str, Any]] = {
    "get": {"action": "get_secret", "side_effects": "none"},
    "put": {"action": "set_secret", "side_effects": "idempotent"},
    "delete": {"action": "delete_secret"},
    "list": {"action": "list_secrets", "side_effects": "none"},
    "get_app_config": {"action": "get_secret", "side_effects": "none", "params": {"path": "apps/onex/config"}},
    "get_under_app": {"action": "get_secret", "side_effects": "none", "params": {"path_prefix": "apps/onex"}},
}


@pytest.fixture
async def vault_token(vault_service: Any) -> str:
    """A token of its own with a name no log line could contain by accident."""
    token = f"onex-test-token-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=vault_service.addr) as client:
        response = await client.post(
            "/v1/auth/token/create",
            headers={"X-Vault-Token": vault_service.token},
            json={"id": token, "policies": ["root"], "ttl": "1h"},
        )
        response.raise_for_status()
    return token


@pytest.fixture
def prefix() -> str:
    """Each test writes under its own folder."""
    return f"apps/onex/t{uuid.uuid4().hex[:8]}"


def vault_config(addr: str, token: str, **overrides: Any) -> dict[str, Any]:
    return {"url": addr, "token": token, "timeout_seconds": 3, **overrides}


@pytest.fixture
async def vault(vault_service: Any, vault_token: str) -> AsyncIterator[HostedNode]:
    async with hosted_node(EnumHandlerType.VAULT, vault_config(vault_service.addr, vault_token), OPERATIONS) as node:
        yield node


async def test_set_get_list_delete_round_trip(vault: HostedNode, prefix: str) -> None:
    first = await vault.call("put", {"path": f"{prefix}/db", "data": {"user": "app", "password": "s3cret"}})
    second = await vault.call("put", {"path": f"{prefix}/db", "data": {"user": "app", "password": "n3w"}})
    await vault.call("put", {"path": f"{prefix}/nested/api", "data": {"key": "k"}})

    assert (first.payload["version"], second.payload["version"]) == (1, 2)

    latest = await vault.call("get", {"path": f"{prefix}/db"})
    assert latest.success, latest.error
    assert latest.payload["data"] == {"user": "app", "password": "n3w"}
    assert latest.payload["version"] == 2
    older = await vault.call("get", {"path": f"{prefix}/db", "version": 1})
    assert older.payload["data"]["password"] == "s3cret"

    listed = await vault.call("list", {"path": prefix})
    assert sorted(listed.payload["keys"]) == ["db", "nested/"]

    deleted = await vault.call("delete", {"path": f"{prefix}/db"})
    assert deleted.success, deleted.error
    gone = await vault.call("get", {"path": f"{prefix}/db"})
    assert gone.error_code is EnumErrorCode.NOT_FOUND

    destroyed = await vault.call("delete", {"path": f"{prefix}/nested/api", "all_versions": True})
    assert destroyed.payload["all_versions"] is True
    assert (await vault.call("list", {"path": f"{prefix}/nested"})).payload["keys"] == []


async def test_a_check_and_set_conflict_is_refused(vault: HostedNode, prefix: str) -> None:
    await vault.call("put", {"path": f"{prefix}/cas", "data": {"v": 1}})

    stale = await vault.call("put", {"path": f"{prefix}/cas", "data": {"v": 2}, "cas": 0})

    assert stale.error_code is EnumErrorCode.UPSTREAM_ERROR
    assert "check-and-set" in (stale.error or "")


async def test_a_secret_that_does_not_exist_is_not_found(vault: HostedNode, prefix: str) -> None:
    reply = await vault.call("get", {"path": f"{prefix}/missing"})

    assert reply.error_code is EnumErrorCode.NOT_FOUND


async def test_contract_pinned_paths_cannot_be_overridden(vault: HostedNode, prefix: str) -> None:
    await vault.call("put", {"path": "apps/onex/config", "data": {"mode": "prod"}})
    await vault.call("put", {"path": f"{prefix}/x", "data": {"n": 1}})

    pinned = await vault.call("get_app_config")
    overridden = await vault.call("get_app_config", {"path": "apps/other"})
    relative = await vault.call("get_under_app", {"path": f"{prefix.removeprefix('apps/onex/')}/x"})
    escape = await vault.call("get_under_app", {"path": "../other/x"})

    assert pinned.payload["data"] == {"mode": "prod"}
    assert overridden.error_code is EnumErrorCode.FORBIDDEN
    assert relative.payload["data"] == {"n": 1}
    assert escape.error_code is EnumErrorCode.INVALID_PAYLOAD


async def test_paths_outside_allowed_paths_are_refused(vault_service: Any, vault_token: str, prefix: str) -> None:
    config = vault_config(vault_service.addr, vault_token, allowed_paths=["apps/onex"])
    async with hosted_node(EnumHandlerType.VAULT, config, OPERATIONS) as node:
        inside = await node.call("put", {"path": f"{prefix}/ok", "data": {"a": 1}})
        outside = await node.call("put", {"path": "apps/other/x", "data": {"a": 1}})
        look_alike = await node.call("get", {"path": "apps/onex-admin/root"})
        traversal = await node.call("get", {"path": "apps/onex/../other/x"})
        root_listing = await node.call("list", {})

    assert inside.success, inside.error
    assert outside.error_code is EnumErrorCode.FORBIDDEN
    assert "allowed_paths" in (outside.error or "")
    assert look_alike.error_code is EnumErrorCode.FORBIDDEN
    assert traversal.error_code is EnumErrorCode.INVALID_PAYLOAD
    assert root_listing.error_code is EnumErrorCode.FORBIDDEN


async def test_a_token_without_access_is_forbidden(vault_service: Any) -> None:
    config = vault_config(vault_service.addr, "not-a-real-token")
    async with hosted_node(EnumHandlerType.VAULT, config, OPERATIONS) as node:
        reply = await node.call("get", {"path": "apps/onex/anything"})

    assert reply.error_code is EnumErrorCode.FORBIDDEN


@pytest.mark.parametrize(
    ("operation", "payload", "fragment"),
    [
        ("get", {}, "payload.path: required field is missing"),
        ("get", {"path": 7}, "payload.path"),
        ("get", {"path": "a", "version": 0}, "payload.version"),
        ("put", {"path": "a"}, "payload.data: required field is missing"),
        ("put", {"path": "a", "data": "x"}, "payload.data"),
        ("put", {"path": "a", "data": {}}, "payload.data"),
        ("get", {"path": "a//b"}, "payload.path"),
    ],
)
async def test_bad_payloads_are_invalid_payload_replies(
    vault: HostedNode, operation: str, payload: dict[str, Any], fragment: str
) -> None:
    reply = await vault.call(operation, payload)

    assert reply.error_code is EnumErrorCode.INVALID_PAYLOAD
    assert fragment in (reply.error or "")


async def test_health_reports_initialized_sealed_and_version(vault: HostedNode) -> None:
    health = await vault.health()

    assert health["healthy"] is True
    assert health["details"]["initialized"] is True
    assert health["details"]["sealed"] is False
    assert health["details"]["version"]


async def test_the_token_never_appears_in_replies_health_or_logs(
    vault_service: Any, vault_token: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    proxy = TcpProxy("127.0.0.1", httpx.URL(vault_service.addr).port or 8200)
    await proxy.start()
    config = vault_config(f"http://127.0.0.1:{proxy.port}", vault_token, allowed_paths=["apps/onex"])
    published: list[str] = []
    async with hosted_node(EnumHandlerType.VAULT, config, OPERATIONS) as node:
        published.append((await node.call("put", {"path": f"{prefix}/a", "data": {"k": "v"}})).model_dump_json())
        published.append((await node.call("get", {"path": f"{prefix}/a"})).model_dump_json())
        published.append((await node.call("get", {"path": "elsewhere"})).model_dump_json())
        published.append((await node.call("get", {"path": f"{prefix}/none"})).model_dump_json())
        published.append(str(await node.health()))
        await proxy.stop()
        published.append((await node.call("get", {"path": f"{prefix}/a"})).model_dump_json())
        published.append(str(await node.health()))

    assert "unreachable" in published[-2]  # the failure paths were really taken
    for text in [*published, caplog.text]:
        assert vault_token not in text


async def test_a_vault_that_goes_away_gives_error_replies_and_health_recovers(
    vault_service: Any, vault_token: str, prefix: str
) -> None:
    proxy = TcpProxy("127.0.0.1", httpx.URL(vault_service.addr).port or 8200)
    await proxy.start()
    config = vault_config(f"http://127.0.0.1:{proxy.port}", vault_token, timeout_seconds=2)
    async with hosted_node(EnumHandlerType.VAULT, config, OPERATIONS) as node:
        assert (await node.call("put", {"path": f"{prefix}/a", "data": {"k": "v"}})).success

        await proxy.stop()
        started = time.monotonic()
        down = await node.call("get", {"path": f"{prefix}/a"}, ttl=3)
        health = await node.health()
        assert time.monotonic() - started < 5
        assert down.error_code in (EnumErrorCode.UPSTREAM_UNAVAILABLE, EnumErrorCode.TIMEOUT), down.error
        assert health["healthy"] is False

        await proxy.start()
        assert (await node.health())["healthy"] is True
        assert (await node.call("get", {"path": f"{prefix}/a"})).payload["data"] == {"k": "v"}
    await proxy.stop()
