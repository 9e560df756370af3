"""Workload 3: what a handler adds on top of the client library it wraps.

Each pair does the same request against the same local server: the onex side
is ``NodeRuntime.route_envelope`` on a node whose operation runs the real
handler (the path an envelope takes once a bus has decoded it; the envelope
is built before the clock starts), the raw side is the client library called
the way a careful user would call it. Requests are sequential and the sides
alternate in batches (see ``_interleave``), so machine drift hits both alike.

- db: a declared ``SELECT`` by primary key. Raw: ``pool.fetch`` on an asyncpg
  pool of the same size. Extra side ``raw_same_steps``: raw asyncpg doing what
  the handler does on the wire (read-only transaction, uncached ``prepare``),
  which splits the gap into protocol round trips and Python overhead.
- http: GET of a small JSON resource from an aiohttp server in another
  process. Raw: ``httpx.AsyncClient.get`` plus ``response.json()``.
- vault: KV v2 read from OpenBao. Raw: the same hvac call on a thread pool of
  the same size (hvac is synchronous, the handler must not block its loop),
  and, as an extra key, hvac called directly on the loop thread.
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import hvac
import requests
from tests.support.builders.handlers import NODE, HostedNode, hosted_node
from tests.support.provisioning.native import NativeOpenBao, NativePostgres

from bench.workloads._interleave import Call, interleaved
from bench.workloads._stats import summarize
from onex_host.core import EnumHandlerType, ModelOnexEnvelope

POOL_SIZE = 4
VAULT_WORKERS = 4
ROWS = 1_000
SQL = "SELECT id, name, value FROM bench_items WHERE id = $1"
SECRET_PATH = "bench/service"
SECRET = {"username": "svc", "password": "not-a-real-password", "port": 5432}


@dataclass(frozen=True)
class Sizes:
    warmup: int
    rounds: int
    batch: int

    @property
    def total(self) -> int:
        return self.warmup + self.rounds * self.batch


FULL = Sizes(warmup=200, rounds=300, batch=10)
QUICK = Sizes(warmup=50, rounds=30, batch=10)


def envelopes(node: HostedNode, operation: str, payloads: list[dict[str, Any]]) -> list[ModelOnexEnvelope]:
    return [
        ModelOnexEnvelope(
            source_node="bench",
            target_node=NODE,
            handler_type=node.handler_type,
            operation=operation,
            payload=payload,
        )
        for payload in payloads
    ]


def onex_call(node: HostedNode, prepared: list[ModelOnexEnvelope]) -> Call:
    """Route pre-built envelope number ``i``; an error reply aborts the workload (it would time the wrong path)."""

    async def call(i: int) -> object:
        reply = await node.runtime.route_envelope(prepared[i % len(prepared)])
        if not reply.success:
            raise RuntimeError(f"onex {prepared[0].operation} failed: {reply.error_code}: {reply.error}")
        return reply

    return call


def keyed(prefix: str, latencies: dict[str, list[float]]) -> dict[str, float]:
    """``{"onex": [...], "raw": [...]}`` -> ``{prefix_onex_p50_ms, prefix_onex_p99_ms, ...}``."""
    out: dict[str, float] = {}
    for side, samples in latencies.items():
        stats = summarize(samples)
        out[f"{prefix}_{side}_p50_ms"] = stats["p50"]
        out[f"{prefix}_{side}_p99_ms"] = stats["p99"]
    return out


# -- PostgreSQL -------------------------------------------------------------------------------


async def _db(dsn: str, sizes: Sizes) -> dict[str, float]:
    setup = await asyncpg.connect(dsn)
    try:
        await setup.execute("CREATE TABLE bench_items (id int PRIMARY KEY, name text NOT NULL, value int NOT NULL)")
        await setup.executemany(
            "INSERT INTO bench_items VALUES ($1, $2, $3)", [(i, f"item {i}", i * 7) for i in range(1, ROWS + 1)]
        )
    finally:
        await setup.close()
    config = {"dsn": dsn, "pool_min_size": POOL_SIZE, "pool_max_size": POOL_SIZE}
    operations = {"get_item": {"action": "query", "side_effects": "none", "params": {"statement": SQL}}}
    ids = [i % ROWS + 1 for i in range(sizes.total * 3)]
    pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
    try:
        async with hosted_node(EnumHandlerType.DB, config, operations) as node:

            async def raw(i: int) -> object:
                return [dict(row) for row in await pool.fetch(SQL, ids[i])]

            async def raw_same_steps(i: int) -> object:
                async with pool.acquire() as conn, conn.transaction(readonly=True):
                    statement = await conn.prepare(SQL)
                    return [dict(row) for row in await statement.fetch(ids[i])]

            prepared = envelopes(node, "get_item", [{"args": [row_id]} for row_id in ids])
            latencies = await interleaved(
                {"onex": onex_call(node, prepared), "raw": raw, "raw_same_steps": raw_same_steps},
                warmup=sizes.warmup,
                rounds=sizes.rounds,
                batch=sizes.batch,
            )
    finally:
        await pool.close()
    return keyed("db_query", latencies)


# -- HTTP -------------------------------------------------------------------------------------


@asynccontextmanager
async def http_target() -> AsyncIterator[str]:
    """Base URL of ``_http_target`` running in its own process."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.workloads._http_target"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout=30)
        if not line.strip().isdigit():
            raise RuntimeError(f"HTTP target did not start (exit code {process.poll()})")
        yield f"http://127.0.0.1:{int(line)}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


async def _http(sizes: Sizes) -> dict[str, float]:
    async with http_target() as base_url:
        operations = {
            "get_item": {
                "action": "request",
                "side_effects": "none",
                "params": {"base_url": base_url, "method": "GET"},
            }
        }
        async with (
            hosted_node(EnumHandlerType.HTTP, {"allowed_hosts": ["127.0.0.1"]}, operations) as node,
            httpx.AsyncClient(timeout=30, trust_env=False, limits=httpx.Limits(max_connections=100)) as client,
        ):
            url = f"{base_url}/item"

            async def raw(_: int) -> object:
                response = await client.get(url)
                response.raise_for_status()
                return response.json()

            prepared = envelopes(node, "get_item", [{"path": "item"}])
            latencies = await interleaved(
                {"onex": onex_call(node, prepared), "raw": raw},
                warmup=sizes.warmup,
                rounds=sizes.rounds,
                batch=sizes.batch,
            )
    return keyed("http_get", latencies)


# -- Vault (OpenBao) --------------------------------------------------------------------------


def _hvac_client(addr: str, token: str) -> tuple[hvac.Client, requests.Session]:
    """Built like the handler builds its own: one session, a connection pool as large as the worker pool."""
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=VAULT_WORKERS))
    session.trust_env = False
    return hvac.Client(url=addr, token=token, session=session), session


async def _vault(addr: str, token: str, sizes: Sizes) -> dict[str, float]:
    client, session = _hvac_client(addr, token)
    executor = ThreadPoolExecutor(max_workers=VAULT_WORKERS, thread_name_prefix="bench-hvac")
    try:
        client.secrets.kv.v2.create_or_update_secret(path=SECRET_PATH, secret=SECRET, mount_point="secret")
        read = functools.partial(
            client.secrets.kv.v2.read_secret_version,
            path=SECRET_PATH,
            mount_point="secret",
            raise_on_deleted_version=True,
        )
        loop = asyncio.get_running_loop()

        async def raw(_: int) -> object:
            return await loop.run_in_executor(executor, read)

        async def raw_direct(_: int) -> object:
            return read()

        config = {"url": addr, "token": token, "max_workers": VAULT_WORKERS}
        operations = {"get": {"action": "get_secret", "side_effects": "none"}}
        async with hosted_node(EnumHandlerType.VAULT, config, operations) as node:
            prepared = envelopes(node, "get", [{"path": SECRET_PATH}])
            latencies = await interleaved(
                {"onex": onex_call(node, prepared), "raw": raw, "raw_direct": raw_direct},
                warmup=sizes.warmup,
                rounds=sizes.rounds,
                batch=sizes.batch,
            )
    finally:
        executor.shutdown(wait=True)
        session.close()
    return keyed("vault_get", latencies)


def run(quick: bool = False) -> dict[str, float]:
    sizes = QUICK if quick else FULL
    results: dict[str, float] = {"handler_requests_per_side": float(sizes.rounds * sizes.batch)}
    with NativePostgres() as postgres:
        results.update(asyncio.run(_db(postgres.dsn, sizes)))
    results.update(asyncio.run(_http(sizes)))
    with NativeOpenBao() as bao:
        results.update(asyncio.run(_vault(bao.addr, bao.root_token, sizes)))
    return results
