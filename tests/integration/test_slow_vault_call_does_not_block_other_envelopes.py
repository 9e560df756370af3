"""A slow Vault delays only Vault envelopes: hvac runs off the event loop.

A delaying reverse proxy in front of the real server runs on the test's own
event loop. If an hvac call blocked the loop, the proxy could not even
answer it, and no echo envelope could complete while it waits.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from onex_host.core import EnumHandlerType
from tests.support.builders.handlers import hosted_node, local_http_server

pytestmark = pytest.mark.vault

DELAY_SECONDS = 1.0
OPERATIONS = {"get": {"action": "get_secret"}, "put": {"action": "set_secret"}}


@pytest.fixture
async def slow_vault(vault_service: Any) -> AsyncIterator[TestServer]:
    """Forwards to the real server, holding every secret read for DELAY_SECONDS first."""
    upstream = httpx.AsyncClient(base_url=vault_service.addr)

    async def forward(request: web.Request) -> web.Response:
        if request.method == "GET" and "/data/" in request.path:
            await asyncio.sleep(DELAY_SECONDS)
        response = await upstream.request(
            request.method,
            request.path_qs,
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            content=await request.read(),
        )
        return web.Response(
            status=response.status_code, body=response.content, content_type=response.headers.get("content-type")
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    async with local_http_server(app) as server:
        yield server
    await upstream.aclose()


async def test_echo_envelopes_complete_while_a_vault_call_waits(slow_vault: TestServer, vault_service: Any) -> None:
    config = {"url": str(slow_vault.make_url("/")), "token": vault_service.token, "max_workers": 1}
    path = f"apps/onex/slow-{uuid.uuid4().hex[:8]}"
    async with hosted_node(EnumHandlerType.VAULT, config, OPERATIONS, with_local=True) as node:
        assert (await node.call("put", {"path": path, "data": {"k": "v"}})).success

        started = time.monotonic()
        slow_reads = [asyncio.create_task(node.call("get", {"path": path})) for _ in range(3)]
        await asyncio.sleep(0.05)
        echoes = [await node.call("echo", {"n": n}, handler_type=EnumHandlerType.LOCAL) for n in range(50)]
        echoed_after = time.monotonic() - started
        vault_threads = [t for t in threading.enumerate() if t.name.startswith("onex-vault")]
        still_waiting = sum(not task.done() for task in slow_reads)
        reads = await asyncio.gather(*slow_reads)
        read_after = time.monotonic() - started

    assert all(echo.success for echo in echoes)
    assert echoed_after < DELAY_SECONDS / 2
    assert still_waiting == 3
    assert len(vault_threads) == 1  # bounded: the other reads queue for the one worker
    assert all(read.success and read.payload["data"] == {"k": "v"} for read in reads)
    assert read_after >= 3 * DELAY_SECONDS * 0.9  # one worker: the reads ran one after another
