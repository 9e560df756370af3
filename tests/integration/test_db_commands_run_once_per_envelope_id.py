"""A db command with side effects runs once per envelope id on a real PostgreSQL, however often it is delivered.

Attacks on the guarantee: redeliveries, the same id with another payload,
operation or node, concurrent deliveries on two hosts at once, a failing
statement (its key must roll back with it), the retention purge, shadow mode.
"""

# ruff: noqa: S608  (SQL text is built from a table name generated per test, never from input)

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import asyncpg
import pytest

from onex_host.core import EnumErrorCode, EnumHandlerType, ModelNodeContract, ModelOnexEnvelope
from onex_host.core.envelope import MAX_TTL_SECONDS
from onex_host.infra.handlers.db import DbHandler
from onex_host.infra.handlers.db.idempotency import TABLE
from onex_host.runtime import NodeRuntime
from tests.support.builders.pg import scratch_table
from tests.support.provisioning.endpoints import PostgresEndpoint

pytestmark = pytest.mark.postgres


def db_config(postgres: PostgresEndpoint, database: str | None = None, **idempotency: Any) -> dict[str, Any]:
    return {
        "host": postgres.host,
        "port": postgres.port,
        "user": postgres.user,
        "password": postgres.password or None,
        "database": database or postgres.database,
        "pool_max_size": 4,
        "statement_timeout_seconds": 10,
        "idempotency": idempotency,
    }


def ledger_operations(table: str) -> dict[str, Any]:
    return {
        "record": {"handler_type": "db", "action": "execute", "side_effects": "external",
                   "params": {"statement": f"INSERT INTO {table} (command, amount) VALUES ($1, $2)"}},
        # The same insert, slowed down, so that concurrent deliveries overlap inside PostgreSQL.
        "record_slowly": {"handler_type": "db", "action": "execute", "side_effects": "external",
                          "params": {"statement": f"INSERT INTO {table} (command, amount)"
                                                  " SELECT $1, $2 FROM pg_sleep(0.3)"}},
        "record_returning": {"handler_type": "db", "action": "query", "side_effects": "idempotent",
                             "params": {"statement": f"INSERT INTO {table} (command, amount) VALUES ($1, $2)"
                                                     " RETURNING id, command, amount, now() AS at"}},
        "post": {"handler_type": "db", "action": "transaction", "side_effects": "external",
                 "params": {"statements": {
                     "entry": f"INSERT INTO {table} (command, amount) VALUES ($1, $2)",
                     "total": f"UPDATE {table}_totals SET total = total + $1",
                 }}},
        "count": {"handler_type": "db", "action": "query", "side_effects": "none",
                  "params": {"statement": f"SELECT count(*) AS n FROM {table}"}},
    }  # fmt: skip


@dataclass
class Host:
    """One runtime host with the ledger node (and an audit node on the same table)."""

    runtime: NodeRuntime
    handler: DbHandler

    async def send(self, request: ModelOnexEnvelope) -> ModelOnexEnvelope:
        return await self.runtime.route_envelope(request)


@asynccontextmanager
async def running_host(config: Mapping[str, Any], table: str, *, shadow: bool = False) -> AsyncIterator[Host]:
    runtime = NodeRuntime(shadow=shadow)
    handler = DbHandler.from_config(config)
    runtime.register_handler(handler)
    operations = ledger_operations(table)
    for slug in ("ledger", "audit"):
        runtime.add_node(slug, ModelNodeContract.model_validate({"name": slug, "operations": operations}))
    await runtime.initialize()
    try:
        yield Host(runtime, handler)
    finally:
        await runtime.shutdown()


def command(operation: str = "record", payload: dict[str, Any] | None = None, **fields: Any) -> ModelOnexEnvelope:
    base: dict[str, Any] = {
        "source_node": "caller",
        "target_node": "ledger",
        "handler_type": EnumHandlerType.DB,
        "operation": operation,
        "payload": payload if payload is not None else {"args": [f"cmd-{uuid.uuid4().hex[:8]}", 10]},
    }
    return ModelOnexEnvelope(**{**base, **fields})


@pytest.fixture
async def ledger_table(postgres_service: PostgresEndpoint) -> AsyncIterator[str]:
    columns = "id bigserial PRIMARY KEY, command text NOT NULL, amount int NOT NULL CHECK (amount >= 0)"
    async with scratch_table(postgres_service.dsn, "ledger", columns) as name:
        conn = await asyncpg.connect(postgres_service.dsn)
        try:
            await conn.execute(f"CREATE TABLE {name}_totals (total int NOT NULL CHECK (total <= 100))")
            await conn.execute(f"INSERT INTO {name}_totals VALUES (0)")
            yield name
        finally:
            await conn.execute(f"DROP TABLE IF EXISTS {name}_totals")
            await conn.close()


@pytest.fixture
async def host(postgres_service: PostgresEndpoint, ledger_table: str) -> AsyncIterator[Host]:
    async with running_host(db_config(postgres_service), ledger_table) as running:
        yield running


@pytest.fixture
async def pg(postgres_service: PostgresEndpoint) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(postgres_service.dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def rows_of(pg: asyncpg.Connection, table: str) -> list[tuple[str, int]]:
    return [(r["command"], r["amount"]) for r in await pg.fetch(f"SELECT command, amount FROM {table} ORDER BY id")]


async def keys_of(pg: asyncpg.Connection, request: ModelOnexEnvelope) -> list[asyncpg.Record]:
    return cast(
        list[asyncpg.Record],
        await pg.fetch(f"SELECT * FROM {TABLE} WHERE envelope_id = $1 ORDER BY scope", request.envelope_id),
    )


# -- redelivery ---------------------------------------------------------------------------------------


async def test_a_redelivered_command_is_answered_from_the_table_and_runs_once(
    host: Host, pg: asyncpg.Connection, ledger_table: str
) -> None:
    request = command()
    first = await host.send(request)
    redelivered = await host.send(ModelOnexEnvelope.from_wire(request.to_wire()))
    again = await host.send(request)

    assert first.success, first.error
    assert [redelivered.payload, again.payload] == [first.payload, first.payload]
    assert (redelivered.correlation_id, redelivered.causation_id) == (request.correlation_id, request.envelope_id)
    assert await rows_of(pg, ledger_table) == [(request.payload["args"][0], 10)]
    assert host.handler.idempotency.replayed == 2
    (key,) = await keys_of(pg, request)
    assert (key["node_slug"], key["operation"], key["scope"]) == ("ledger", "record", "")


async def test_a_stored_reply_is_rebuilt_for_the_current_request_and_keeps_its_rows_exactly(
    host: Host, pg: asyncpg.Connection, ledger_table: str
) -> None:
    request = command("record_returning")
    first = await host.send(request)
    # Same envelope id and payload, new correlation id: answered, but as a reply to this request.
    retried = request.model_copy(update={"correlation_id": uuid.uuid4()})
    second = await host.send(retried)

    assert first.success, first.error
    assert second.success, second.error
    assert second.payload == first.payload
    assert list(second.payload["rows"][0]) == ["id", "command", "amount", "at"]  # key order survives the table
    assert second.correlation_id == retried.correlation_id != first.correlation_id
    assert len(await rows_of(pg, ledger_table)) == 1


async def test_a_redelivered_transaction_moves_its_totals_once(
    host: Host, pg: asyncpg.Connection, ledger_table: str
) -> None:
    request = command("post", {"steps": [{"statement": "entry", "args": ["t1", 40]},
                                         {"statement": "total", "args": [40]}]})  # fmt: skip
    replies = [await host.send(request) for _ in range(3)]

    assert all(r.success for r in replies), [r.error for r in replies]
    assert {str(r.payload) for r in replies} == {str(replies[0].payload)}
    assert await pg.fetchval(f"SELECT total FROM {ledger_table}_totals") == 40
    assert await rows_of(pg, ledger_table) == [("t1", 40)]


# -- the same id for another command -----------------------------------------------------------------


@pytest.mark.parametrize(
    "reuse",
    [
        pytest.param({"payload": {"args": ["other", 99]}}, id="another-payload"),
        pytest.param({"source_node": "intruder"}, id="another-source-node"),
        pytest.param({"operation": "record_returning"}, id="another-operation"),
        pytest.param({"target_node": "audit"}, id="another-node"),
    ],
)
async def test_an_envelope_id_reused_for_another_command_is_refused_and_not_run(
    host: Host, pg: asyncpg.Connection, ledger_table: str, reuse: dict[str, Any]
) -> None:
    original = command(payload={"args": ["original", 1]})
    assert (await host.send(original)).success
    intruder = original.model_copy(update={"correlation_id": uuid.uuid4(), **reuse})

    refused = await host.send(intruder)

    assert refused.success is False
    assert refused.error_code is EnumErrorCode.INVALID_ENVELOPE
    assert refused.payload == {"reason": "envelope_id_reused"}
    assert str(original.envelope_id) in (refused.error or "")
    assert "original" not in (refused.error or "")  # nothing of the first command's result leaks
    assert refused.correlation_id == intruder.correlation_id
    assert await rows_of(pg, ledger_table) == [("original", 1)]
    assert host.handler.idempotency.refused == 1
    # The original command's redelivery is still answered from its row.
    assert (await host.send(original)).success


async def test_each_node_of_a_broadcast_runs_once_and_is_answered_from_its_own_row(
    host: Host, pg: asyncpg.Connection, ledger_table: str
) -> None:
    broadcast = command(target_node=None)

    replies = [await host.send(broadcast) for _ in range(2)]

    assert all(r.success for r in replies), [r.error for r in replies]
    assert set(replies[0].payload["results"]) == {"ledger", "audit"}
    assert len(await rows_of(pg, ledger_table)) == 2  # one per node, not one per delivery
    assert [k["scope"] for k in await keys_of(pg, broadcast)] == ["audit", "ledger"]


# -- concurrent deliveries ------------------------------------------------------------------------------


async def test_concurrent_deliveries_on_two_hosts_run_the_command_once(
    postgres_service: PostgresEndpoint, pg: asyncpg.Connection, ledger_table: str
) -> None:
    """Two hosts holding the same record during a rebalance: the second waits for the first's key, then replays."""
    deliveries_per_host = 3
    request = command("record_slowly")
    async with AsyncExitStack() as stack:
        hosts = [await stack.enter_async_context(running_host(db_config(postgres_service), ledger_table))
                 for _ in range(2)]  # fmt: skip
        replies = await asyncio.gather(*(h.send(request) for h in hosts for _ in range(deliveries_per_host)))

    assert all(r.success for r in replies), [r.error for r in replies]
    assert {str(r.payload) for r in replies} == {str(replies[0].payload)}
    assert await rows_of(pg, ledger_table) == [(request.payload["args"][0], 10)]
    replayed = sum(h.handler.idempotency.replayed for h in hosts)
    print(f"\n{len(replies)} concurrent deliveries on 2 hosts: 1 run, {replayed} replayed")
    assert replayed == len(replies) - 1


async def test_concurrent_distinct_commands_each_run_once(
    host: Host, pg: asyncpg.Connection, ledger_table: str
) -> None:
    commands = [command(payload={"args": [f"c{i}", i]}) for i in range(12)]
    replies = await asyncio.gather(*(host.send(c) for c in commands * 2))

    assert all(r.success for r in replies), [r.error for r in replies]
    assert sorted(await rows_of(pg, ledger_table)) == sorted((f"c{i}", i) for i in range(12))


# -- failure rolls the key back -------------------------------------------------------------------------


async def test_a_failing_statement_rolls_its_key_back_so_the_retried_command_runs(
    host: Host, pg: asyncpg.Connection, ledger_table: str
) -> None:
    # Would push the total over its CHECK (total <= 100): the transaction fails on its second step.
    request = command("post", {"steps": [{"statement": "entry", "args": ["big", 150]},
                                         {"statement": "total", "args": [150]}]})  # fmt: skip
    failed = await host.send(request)
    assert failed.success is False
    assert failed.payload["sqlstate"] == "23514"
    assert await keys_of(pg, request) == []
    assert await rows_of(pg, ledger_table) == []

    await pg.execute(f"ALTER TABLE {ledger_table}_totals DROP CONSTRAINT {ledger_table}_totals_total_check")
    retried = await host.send(request)

    assert retried.success, retried.error
    assert await rows_of(pg, ledger_table) == [("big", 150)]
    assert len(await keys_of(pg, request)) == 1


# -- what is keyed, and what is not ----------------------------------------------------------------------


async def test_read_only_operations_write_no_key(host: Host, pg: asyncpg.Connection) -> None:
    request = command("count", {})
    assert (await host.send(request)).success
    assert await keys_of(pg, request) == []


async def test_with_idempotency_off_a_redelivery_runs_again(
    postgres_service: PostgresEndpoint, pg: asyncpg.Connection, ledger_table: str
) -> None:
    """The switch works, and this suite can tell a repeated effect from a single one."""
    async with running_host(db_config(postgres_service, enabled=False), ledger_table) as unkeyed:
        request = command()
        replies = [await unkeyed.send(request) for _ in range(2)]

    assert all(r.success for r in replies)
    assert len(await rows_of(pg, ledger_table)) == 2
    assert await keys_of(pg, request) == []


async def test_a_shadow_host_writes_no_key(
    postgres_service: PostgresEndpoint, pg: asyncpg.Connection, ledger_table: str
) -> None:
    async with running_host(db_config(postgres_service, purge_interval_seconds=0.001), ledger_table,
                            shadow=True) as shadow:  # fmt: skip
        request = command()
        skipped = await shadow.send(request)
        counted = await shadow.send(command("count", {}))

    assert skipped.error_code is EnumErrorCode.SHADOW_SKIPPED
    assert counted.success, counted.error
    assert await keys_of(pg, request) == []
    assert shadow.handler.idempotency.details() == {"enabled": True, "replayed": 0, "refused": 0, "purged": 0}


async def test_the_stored_row_holds_the_published_payload_and_nothing_of_the_config(
    postgres_service: PostgresEndpoint, host: Host, pg: asyncpg.Connection
) -> None:
    request = command("record_returning")
    reply = await host.send(request)
    (key,) = await keys_of(pg, request)

    assert set(key.keys()) == {
        "envelope_id", "scope", "node_slug", "operation", "request_digest", "reply_payload", "created_at",
        "expires_at",
    }  # fmt: skip
    assert json.loads(key["reply_payload"]) == reply.payload
    stored = await pg.fetchval(
        f"SELECT row_to_json(t)::text FROM {TABLE} t WHERE envelope_id = $1", request.envelope_id
    )
    for secret in filter(None, (postgres_service.password, postgres_service.dsn)):
        assert secret not in stored


async def test_a_missing_table_is_one_clear_retryable_error(
    postgres_service: PostgresEndpoint, pg: asyncpg.Connection
) -> None:
    database = f"onex_unmigrated_{uuid.uuid4().hex[:8]}"
    await pg.execute(f'CREATE DATABASE "{database}"')
    try:
        fresh = await asyncpg.connect(postgres_service.dsn, database=database)
        try:
            await fresh.execute("CREATE TABLE ledger (id bigserial, command text, amount int)")
        finally:
            await fresh.close()
        async with running_host(db_config(postgres_service, database), "ledger") as unmigrated:
            reply = await unmigrated.send(command())
            count = await unmigrated.send(command("count", {}))
    finally:
        await pg.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    assert reply.error_code is EnumErrorCode.UPSTREAM_UNAVAILABLE
    assert "onex_host_idempotency does not exist: apply migrations/postgres" in (reply.error or "")
    assert count.success, count.error  # read-only operations do not need the table


# -- retention ------------------------------------------------------------------------------------------------


async def _insert_keys(pg: asyncpg.Connection, expires_at: datetime, count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    await pg.executemany(
        f"INSERT INTO {TABLE} (envelope_id, scope, node_slug, operation, request_digest, reply_payload, expires_at)"
        " VALUES ($1, '', 'ledger', 'record', $2, '{}', $3)",
        [(i, b"\0" * 32, expires_at) for i in ids],
    )
    return ids


async def _present(pg: asyncpg.Connection, ids: list[uuid.UUID]) -> int:
    return cast(int, await pg.fetchval(f"SELECT count(*) FROM {TABLE} WHERE envelope_id = ANY($1)", ids))


async def test_the_purge_deletes_expired_keys_in_bounded_batches_and_keeps_live_ones(
    postgres_service: PostgresEndpoint, pg: asyncpg.Connection, ledger_table: str
) -> None:
    now = datetime.now(UTC)
    expired = await _insert_keys(pg, now - timedelta(seconds=1), 7)
    live = await _insert_keys(pg, now + timedelta(hours=1), 2)
    async with running_host(db_config(postgres_service, purge_batch_size=3), ledger_table) as purging:
        statements: list[str] = []
        pool = await purging.handler._pools.ready()
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda q: statements.append(q.query.strip()))
            purged = await purging.handler.idempotency.purge_expired(conn)

    assert await _present(pg, expired) == 0
    assert await _present(pg, live) == 2
    assert purged >= 7  # other tests' expired rows count too
    deletes = [s for s in statements if s.startswith("DELETE")]
    assert len(deletes) == purged // 3 + 1, statements  # batches of at most 3, the last one short


async def test_a_keyed_command_starts_the_purge_in_the_background(
    postgres_service: PostgresEndpoint, pg: asyncpg.Connection, ledger_table: str
) -> None:
    expired = await _insert_keys(pg, datetime.now(UTC) - timedelta(seconds=1), 3)
    async with running_host(db_config(postgres_service), ledger_table) as purging:
        assert (await purging.send(command())).success
        async with asyncio.timeout(10):
            while await _present(pg, expired):
                await asyncio.sleep(0.05)
        assert purging.handler.idempotency.purged >= 3
        health = await purging.runtime.health()
    assert health[0].details["idempotency"]["purged"] >= 3


async def test_a_key_lives_for_the_retention_and_never_less_than_its_envelope(
    postgres_service: PostgresEndpoint, pg: asyncpg.Connection, ledger_table: str
) -> None:
    async with running_host(db_config(postgres_service, retention_seconds=60), ledger_table) as short:
        untimed, long_lived = command(), command(ttl_seconds=MAX_TTL_SECONDS)
        assert (await short.send(untimed)).success
        assert (await short.send(long_lived)).success
    (untimed_key,) = await keys_of(pg, untimed)
    (long_key,) = await keys_of(pg, long_lived)

    assert untimed_key["expires_at"] - untimed_key["created_at"] == timedelta(seconds=60)
    assert long_key["expires_at"] == long_lived.expires_at
