"""Attacks on the db handler through what a command may carry, against a real PostgreSQL.

A command can only pick a declared statement and give its arguments: no
argument, however it is spelled, becomes SQL; a read-only operation cannot
write whatever it is given; a dev host's raw SQL still runs one statement.
"""

# ruff: noqa: S608  (SQL text is built from a table name generated per test, never from input)
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from onex_host.core import EnumErrorCode, EnumHandlerType
from tests.support.builders.handlers import HostedNode, hosted_node
from tests.support.builders.pg import scratch_table

pytestmark = pytest.mark.postgres

INJECTIONS = [
    "1; DROP TABLE {table}",
    "1 OR 1=1",
    "'; DELETE FROM {table}; --",
    "1) UNION SELECT usename, passwd FROM pg_shadow --",
    "$$; TRUNCATE {table}; $$",
    "\\'; DROP TABLE {table}; --",
]


@pytest.fixture
async def table(postgres_service: Any) -> AsyncIterator[str]:
    async with scratch_table(
        postgres_service.dsn, "attack", "id int PRIMARY KEY, owner text", "INSERT INTO {table} VALUES (1, 'ada')"
    ) as name:
        yield name


def _config(postgres_service: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "host": postgres_service.host,
        "port": postgres_service.port,
        "user": postgres_service.user,
        "password": postgres_service.password or None,
        "database": postgres_service.database,
        **overrides,
    }


@pytest.fixture
async def db(postgres_service: Any, table: str) -> AsyncIterator[HostedNode]:
    operations = {
        "by_owner": {"action": "query", "side_effects": "none",
                     "params": {"statement": f"SELECT id FROM {table} WHERE owner = $1"}},
        "by_id_text": {"action": "query", "side_effects": "none",
                       "params": {"statement": f"SELECT owner FROM {table} WHERE id::text = $1"}},
        "sneaky_read": {"action": "execute", "side_effects": "none",
                        "params": {"statement": f"UPDATE {table} SET owner = $1 WHERE id = 1"}},
    }  # fmt: skip
    async with hosted_node(EnumHandlerType.DB, _config(postgres_service), operations) as node:
        yield node


async def _rows(postgres_service: Any, table: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(postgres_service.dsn)
    try:
        return [tuple(row) for row in await conn.fetch(f"SELECT id, owner FROM {table} ORDER BY id")]
    finally:
        await conn.close()


@pytest.mark.parametrize("injection", INJECTIONS)
async def test_no_argument_becomes_sql(db: HostedNode, postgres_service: Any, table: str, injection: str) -> None:
    value = injection.format(table=table)
    by_owner = await db.call("by_owner", {"args": [value]})
    by_id = await db.call("by_id_text", {"args": [value]})

    assert by_owner.success, by_owner.error
    assert by_owner.payload["rows"] == []
    assert by_id.success, by_id.error
    assert by_id.payload["rows"] == []
    assert await _rows(postgres_service, table) == [(1, "ada")]


async def test_an_operation_declared_read_only_cannot_write(db: HostedNode, postgres_service: Any, table: str) -> None:
    reply = await db.call("sneaky_read", {"args": ["mallory"]})

    assert reply.success is False
    assert reply.payload["sqlstate"] == "25006"  # read_only_sql_transaction
    assert await _rows(postgres_service, table) == [(1, "ada")]


@pytest.mark.parametrize("sql", ["SELECT 1; DROP TABLE {table}", "SELECT 1;DELETE FROM {table}"])
async def test_raw_sql_on_a_dev_host_still_runs_one_statement(postgres_service: Any, table: str, sql: str) -> None:
    operations = {"adhoc": {"action": "query", "params": {"raw_sql": True}}}
    async with hosted_node(EnumHandlerType.DB, _config(postgres_service, allow_raw_sql=True), operations) as node:
        reply = await node.call("adhoc", {"sql": sql.format(table=table)})

    assert reply.success is False
    assert await _rows(postgres_service, table) == [(1, "ada")]


async def test_sql_in_the_payload_of_a_declared_statement_is_refused(db: HostedNode) -> None:
    reply = await db.call("by_owner", {"args": ["ada"], "sql": "DELETE FROM pg_class"})

    assert reply.error_code is EnumErrorCode.FORBIDDEN
