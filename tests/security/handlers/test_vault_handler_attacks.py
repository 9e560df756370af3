"""Attacks on the vault handler's path checks, against a real OpenBao server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from onex_host.core import EnumErrorCode, EnumHandlerType
from tests.support.builders.handlers import HostedNode, hosted_node

pytestmark = pytest.mark.vault


@pytest.fixture
async def vault(vault_service: Any) -> AsyncIterator[HostedNode]:
    operations = {"get": {"action": "get_secret", "side_effects": "none", "params": {"path_prefix": "apps/onex"}}}
    config = {"url": vault_service.addr, "token": vault_service.token, "allowed_paths": ["apps/onex"]}
    async with hosted_node(EnumHandlerType.VAULT, config, operations) as node:
        yield node


@pytest.mark.parametrize(
    "path", ["../admin/root", "%2e%2e/admin/root", "%2E%2E%2Fadmin", "%252e%252e/admin", "db/%2e", "a\\..\\b", "a\x00b"]
)
async def test_no_spelling_of_a_parent_segment_leaves_the_prefix(vault: HostedNode, path: str) -> None:
    reply = await vault.call("get", {"path": path})

    assert reply.error_code is EnumErrorCode.INVALID_PAYLOAD
    assert "payload" in (reply.error or "")
