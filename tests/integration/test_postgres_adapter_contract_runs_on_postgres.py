"""The example postgres_adapter node's declared statements run on a real PostgreSQL, as loaded from its contract."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from onex_host.core import EnumErrorCode, EnumHandlerType, ModelOnexEnvelope, load_host
from onex_host.infra.wiring import register_handlers
from onex_host.runtime import NodeRuntime

REPOSITORY = Path(__file__).resolve().parents[2]
CONTRACTS = REPOSITORY / "contracts"
SCHEMA = "\n".join(path.read_text() for path in sorted((REPOSITORY / "migrations" / "postgres").glob("*.sql")))

pytestmark = pytest.mark.postgres


@pytest.fixture
async def database(postgres_service: Any) -> AsyncIterator[str]:
    """A database of its own, so the example's fixed table names meet no other test."""
    name = f"onex_example_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_service.dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(postgres_service.dsn, database=name)
        try:
            await conn.execute(SCHEMA)
        finally:
            await conn.close()
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def runtime(postgres_service: Any, database: str) -> AsyncIterator[NodeRuntime]:
    env = {
        "POSTGRES_HOST": postgres_service.host,
        "POSTGRES_PORT": str(postgres_service.port),
        "POSTGRES_DB": database,
        "POSTGRES_USER": postgres_service.user,
        "POSTGRES_PASSWORD": postgres_service.password or "unused",
        "VAULT_ADDR": "http://127.0.0.1:9",
        "VAULT_TOKEN": "unused",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
    }
    host = load_host(CONTRACTS / "runtime" / "infra_runtime_host.yaml", env=env)
    runtime = NodeRuntime()
    register_handlers(runtime, host.contract, str(host.path))
    runtime.add_nodes(host.nodes)
    await runtime.initialize()
    yield runtime
    await runtime.shutdown()


async def call(runtime: NodeRuntime, operation: str, payload: dict[str, Any]) -> ModelOnexEnvelope:
    envelope = ModelOnexEnvelope(
        source_node="test",
        target_node="postgres_adapter",
        handler_type=EnumHandlerType.DB,
        operation=operation,
        payload=payload,
    )
    return await runtime.route_envelope(envelope)


async def test_register_list_heartbeat_and_delete(runtime: NodeRuntime) -> None:
    for slug, kind in (("vault_adapter", "effect"), ("planner", "orchestrator")):
        upsert = await call(runtime, "upsert_registration", {"args": [slug, kind, "1.0.0", f"http://{slug}"]})
        assert upsert.payload["row_count"] == 1, upsert.error
    await call(runtime, "upsert_registration", {"args": ["planner", "orchestrator", "1.1.0", None]})

    effects = await call(runtime, "list_registrations", {"args": ["effect", 10]})
    everything = await call(runtime, "list_registrations", {"args": [None, 10]})
    planner = await call(runtime, "get_registration", {"args": ["planner"]})

    assert [row["slug"] for row in effects.payload["rows"]] == ["vault_adapter"]
    assert [row["slug"] for row in everything.payload["rows"]] == ["planner", "vault_adapter"]
    assert (planner.payload["rows"][0]["version"], planner.payload["rows"][0]["endpoint"]) == ("1.1.0", None)

    beat = await call(
        runtime,
        "record_heartbeat",
        {"steps": [{"statement": "touch", "args": ["planner"]}, {"statement": "log", "args": ["planner", "ok"]}]},
    )
    assert beat.success, beat.error
    assert beat.payload["results"][0]["rows"][0]["last_seen"]

    bad_beat = await call(
        runtime,
        "record_heartbeat",
        {"steps": [{"statement": "touch", "args": ["planner"]}, {"statement": "log", "args": ["planner", "sleepy"]}]},
    )
    assert bad_beat.error_code is EnumErrorCode.UPSTREAM_ERROR
    assert bad_beat.payload["sqlstate"] == "23514"

    deleted = await call(runtime, "delete_registration", {"args": ["planner"]})
    assert deleted.payload["row_count"] == 1
    assert (await call(runtime, "get_registration", {"args": ["planner"]})).payload["rows"] == []
