"""The db handler runs contract-declared statements against a real PostgreSQL."""

# ruff: noqa: S608  (SQL text is built from a table name generated per test, never from input)

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from onex_host.core import ContractError, EnumErrorCode, EnumHandlerType, ModelNodeContract
from onex_host.infra.handlers.db import DbHandler
from onex_host.runtime import NodeRuntime
from tests.support.builders.handlers import HostedNode, hosted_node
from tests.support.builders.pg import scratch_table
from tests.support.doubles.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


@pytest.fixture
def db_config(postgres_service: Any) -> dict[str, Any]:
    return {
        "host": postgres_service.host,
        "port": postgres_service.port,
        "user": postgres_service.user,
        "password": postgres_service.password or None,
        "database": postgres_service.database,
        "pool_min_size": 1,
        "pool_max_size": 3,
        "statement_timeout_seconds": 5,
        "connect_timeout_seconds": 2,
    }


@pytest.fixture
async def table(postgres_service: Any) -> AsyncIterator[str]:
    """A fresh accounts table per test, so tests never see each other's rows."""
    columns = (
        "id int PRIMARY KEY, owner text NOT NULL, balance numeric(12,2) NOT NULL CHECK (balance >= 0),"
        " opened timestamptz, ref uuid, tags text[], profile jsonb, blob bytea"
    )
    seed = "INSERT INTO {table} (id, owner, balance) VALUES (1, 'ada', 100.50), (2, 'bob', 10)"
    async with scratch_table(postgres_service.dsn, "accounts", columns, seed) as name:
        yield name


def operations(table: str, *, raw_sql: bool = False) -> dict[str, dict[str, Any]]:
    declared: dict[str, dict[str, Any]] = {
        "get_account": {
            "action": "query",
            "side_effects": "none",
            "params": {"statement": f"SELECT id, owner, balance FROM {table} WHERE id = $1"},
        },
        "list_accounts": {
            "action": "query",
            "side_effects": "none",
            "params": {"statement": f"SELECT * FROM {table} ORDER BY id"},
        },
        "sneaky_write": {
            "action": "query",
            "side_effects": "none",
            "params": {"statement": f"INSERT INTO {table} (id, owner, balance) VALUES (99, 'eve', 0) RETURNING id"},
        },
        "open_account": {
            "action": "execute",
            "params": {
                "statement": f"INSERT INTO {table} (id, owner, balance, opened, ref, tags, profile, blob)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            },
        },
        "close_accounts_of": {"action": "execute", "params": {"statement": f"DELETE FROM {table} WHERE owner = $1"}},
        "transfer": {
            "action": "transaction",
            "params": {
                "statements": {
                    "debit": f"UPDATE {table} SET balance = balance - $2 WHERE id = $1",
                    "credit": f"UPDATE {table} SET balance = balance + $2 WHERE id = $1",
                }
            },
        },
        "slow": {"action": "query", "side_effects": "none", "params": {"statement": "SELECT pg_sleep($1)"}},
    }
    if raw_sql:
        declared["adhoc"] = {"action": "query", "params": {"raw_sql": True}}
    return declared


@pytest.fixture
async def db(db_config: dict[str, Any], table: str) -> AsyncIterator[HostedNode]:
    async with hosted_node(EnumHandlerType.DB, db_config, operations(table)) as node:
        yield node


async def balances(db: HostedNode) -> dict[int, str]:
    reply = await db.call("list_accounts")
    assert reply.success, reply.error
    return {row["id"]: row["balance"] for row in reply.payload["rows"]}


async def test_query_returns_rows_as_json_objects(db: HostedNode) -> None:
    reply = await db.call("get_account", {"args": [1]})

    assert reply.success, reply.error
    assert reply.payload["rows"] == [{"id": 1, "owner": "ada", "balance": "100.50"}]
    assert reply.payload["columns"] == ["id", "owner", "balance"]
    assert reply.payload["row_count"] == 1


async def test_json_arguments_become_the_declared_types_and_results_stay_json_safe(db: HostedNode) -> None:
    ref = str(uuid.uuid4())
    opened = "2024-05-01T12:30:00+00:00"
    reply = await db.call(
        "open_account",
        {"args": [3, "cy", "7.25", opened, ref, ["a", "b"], {"tier": "gold", "n": [1, 2]}, "AAEC"]},
    )
    assert reply.success, reply.error
    assert (reply.payload["status"], reply.payload["row_count"]) == ("INSERT 0 1", 1)

    row = (await db.call("list_accounts")).payload["rows"][2]
    assert row == {
        "id": 3,
        "owner": "cy",
        "balance": "7.25",
        "opened": opened,
        "ref": ref,
        "tags": ["a", "b"],
        "profile": {"tier": "gold", "n": [1, 2]},
        "blob": "AAEC",
    }


async def test_execute_reports_the_affected_row_count(db: HostedNode) -> None:
    reply = await db.call("close_accounts_of", {"args": ["bob"]})

    assert reply.success, reply.error
    assert reply.payload == {"status": "DELETE 1", "row_count": 1}


async def test_transaction_commits_every_step(db: HostedNode) -> None:
    reply = await db.call(
        "transfer",
        {"steps": [{"statement": "debit", "args": [1, "40.50"]}, {"statement": "credit", "args": [2, "40.50"]}]},
    )

    assert reply.success, reply.error
    assert reply.payload["committed"] is True
    assert [r["row_count"] for r in reply.payload["results"]] == [1, 1]
    assert await balances(db) == {1: "60.00", 2: "50.50"}


async def test_a_failing_step_rolls_the_whole_transaction_back(db: HostedNode) -> None:
    reply = await db.call(
        "transfer",
        {"steps": [{"statement": "credit", "args": [1, 500]}, {"statement": "debit", "args": [2, 500]}]},
    )

    assert not reply.success
    assert reply.error_code is EnumErrorCode.UPSTREAM_ERROR
    assert reply.payload["sqlstate"] == "23514"  # check_violation: balance would go negative
    assert reply.payload["step"] == 1
    assert reply.payload["rolled_back"] is True
    assert "payload.steps[1] (debit)" in (reply.error or "")
    assert await balances(db) == {1: "100.50", 2: "10.00"}


async def test_a_postgres_error_carries_its_sqlstate(db: HostedNode) -> None:
    reply = await db.call(
        "open_account", {"args": [1, "dup", "1", None, None, None, None, None]}
    )  # id 1 exists already

    assert reply.error_code is EnumErrorCode.UPSTREAM_ERROR
    assert reply.payload["sqlstate"] == "23505"
    assert reply.payload["constraint_name"].endswith("_pkey")
    assert "23505" in (reply.error or "")


async def test_a_read_only_operation_cannot_write(db: HostedNode) -> None:
    reply = await db.call("sneaky_write")

    assert not reply.success
    assert reply.payload["sqlstate"] == "25006"  # read_only_sql_transaction
    assert len(await balances(db)) == 2


async def test_a_slow_statement_times_out_within_the_envelope_ttl_and_the_pool_survives(db: HostedNode) -> None:
    started = time.monotonic()
    reply = await db.call("slow", {"args": [5]}, ttl=0.5)

    assert reply.error_code is EnumErrorCode.TIMEOUT
    assert time.monotonic() - started < 2
    assert (await db.call("get_account", {"args": [2]})).success


async def test_raw_sql_is_refused_unless_the_config_allows_it(
    db: HostedNode, db_config: dict[str, Any], table: str
) -> None:
    injected = await db.call("get_account", {"args": [1], "sql": "DELETE FROM pg_class"})
    with pytest.raises(ContractError, match=r"params\.raw_sql: .* does not set allow_raw_sql"):
        async with hosted_node(EnumHandlerType.DB, db_config, operations(table, raw_sql=True)):
            pass  # refused when the contract loads: a raw-SQL operation never reaches a forbidding host

    assert injected.error_code is EnumErrorCode.FORBIDDEN
    assert "payload.sql" in (injected.error or "")


async def test_raw_sql_runs_where_the_dev_config_allows_it(db_config: dict[str, Any], table: str) -> None:
    config = {**db_config, "allow_raw_sql": True}
    async with hosted_node(EnumHandlerType.DB, config, operations(table, raw_sql=True)) as node:
        reply = await node.call("adhoc", {"sql": "SELECT $1::int + 1 AS answer", "args": [41]})
        two_statements = await node.call("adhoc", {"sql": "SELECT 1; SELECT 2"})

    assert reply.payload["rows"] == [{"answer": 42}]
    assert not two_statements.success  # prepared statements never run a multi-statement string
    assert two_statements.payload["sqlstate"] == "42601"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"args": "1"}, "payload.args"),
        ({"args": [1, 2]}, "payload.args: the statement takes 1 argument(s), got 2"),
        ({"args": ["one"]}, "payload.args"),
        ({"params": [1]}, "payload.params: unknown field"),
    ],
)
async def test_bad_arguments_are_invalid_payload_replies(
    db: HostedNode, payload: dict[str, Any], fragment: str
) -> None:
    reply = await db.call("get_account", payload)

    assert reply.error_code is EnumErrorCode.INVALID_PAYLOAD, reply.error
    assert fragment in (reply.error or "")


async def test_a_bad_date_argument_names_the_argument(db: HostedNode) -> None:
    reply = await db.call("open_account", {"args": [5, "x", "1", "yesterday-ish", None, None, None, None]})

    assert reply.error_code is EnumErrorCode.INVALID_PAYLOAD
    assert "payload.args[3] ($4, timestamptz)" in (reply.error or "")


async def test_an_undeclared_transaction_step_is_refused(db: HostedNode) -> None:
    reply = await db.call("transfer", {"steps": [{"statement": "drop_everything"}]})

    assert reply.error_code is EnumErrorCode.INVALID_PAYLOAD
    assert "'drop_everything' is not declared" in (reply.error or "")


async def test_a_db_operation_without_a_statement_fails_at_load() -> None:
    runtime = NodeRuntime()
    runtime.register_handler(DbHandler())
    contract = ModelNodeContract.model_validate(
        {"name": "bad", "operations": {"get": {"handler_type": "db", "action": "query", "params": {"sql": "x"}}}}
    )

    with pytest.raises(ContractError, match=r"operations\.get: params\.sql"):
        runtime.add_node("bad", contract)


async def test_a_dropped_connection_is_replaced_on_the_next_request(db: HostedNode, postgres_service: Any) -> None:
    assert (await db.call("get_account", {"args": [1]})).success
    admin = await asyncpg.connect(postgres_service.dsn)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'onex-host'"
        )
    finally:
        await admin.close()
    assert killed >= 1

    reply = await db.call("get_account", {"args": [1]})

    assert reply.success, reply.error


async def test_a_database_that_goes_away_gives_error_replies_and_health_recovers(
    db_config: dict[str, Any], table: str, postgres_service: Any
) -> None:
    proxy = TcpProxy(postgres_service.host, postgres_service.port)
    await proxy.start()
    config = {**db_config, "host": "127.0.0.1", "port": proxy.port}
    async with hosted_node(EnumHandlerType.DB, config, operations(table)) as node:
        assert (await node.call("get_account", {"args": [1]})).success
        assert (await node.health())["healthy"] is True

        await proxy.stop()
        started = time.monotonic()
        down = await node.call("get_account", {"args": [1]}, ttl=3)
        health = await node.health()
        assert time.monotonic() - started < 6
        assert down.error_code in (EnumErrorCode.UPSTREAM_UNAVAILABLE, EnumErrorCode.TIMEOUT), down.error
        assert health["healthy"] is False
        assert health["details"]["error"]

        await proxy.start()
        assert (await node.health())["healthy"] is True
        assert (await node.call("get_account", {"args": [1]})).success
    await proxy.stop()


async def test_health_reports_the_server_and_pool(db: HostedNode) -> None:
    health = await db.health()

    assert health["healthy"] is True
    assert health["details"]["pool_max_size"] == 3
    assert health["details"]["server_version"]


async def test_the_host_starts_while_postgres_is_down_and_serves_once_it_is_up(
    db_config: dict[str, Any], table: str, postgres_service: Any
) -> None:
    proxy = TcpProxy(postgres_service.host, postgres_service.port)
    await proxy.start()
    await proxy.stop()  # the port is known but nothing listens yet
    config = {**db_config, "host": "127.0.0.1", "port": proxy.port}
    async with hosted_node(EnumHandlerType.DB, config, operations(table)) as node:
        down = await node.call("get_account", {"args": [1]})
        assert down.error_code is EnumErrorCode.UPSTREAM_UNAVAILABLE, down.error
        await proxy.start()
        assert (await node.call("get_account", {"args": [1]})).success
    await proxy.stop()


async def test_later_runs_of_a_statement_reply_exactly_like_the_first(db: HostedNode, postgres_service: Any) -> None:
    """The first run prepares and learns the statement; later runs use the statement cache."""
    first_query, second_query = [await db.call("get_account", {"args": [2]}) for _ in range(2)]
    assert first_query.payload == second_query.payload
    assert second_query.payload["status"] == "SELECT 1"
    assert second_query.payload["columns"] == ["id", "owner", "balance"]

    first_delete, second_delete = [await db.call("close_accounts_of", {"args": [owner]}) for owner in ("ada", "zed")]
    assert (first_delete.payload["status"], first_delete.payload["row_count"]) == ("DELETE 1", 1)
    assert (second_delete.payload["status"], second_delete.payload["row_count"]) == ("DELETE 0", 0)

    bad_type = await db.call("get_account", {"args": ["not a number"]})
    assert bad_type.error_code is EnumErrorCode.INVALID_PAYLOAD
    sneaky_again = [await db.call("sneaky_write") for _ in range(2)]
    assert [r.payload["sqlstate"] for r in sneaky_again] == ["25006", "25006"]


async def test_a_changed_schema_is_learned_again(db: HostedNode, table: str, postgres_service: Any) -> None:
    assert (await db.call("list_accounts")).payload["columns"][-1] == "blob"
    conn = await asyncpg.connect(postgres_service.dsn)
    try:
        await conn.execute(f"ALTER TABLE {table} ADD COLUMN nickname text")
    finally:
        await conn.close()
    replies = [await db.call("list_accounts") for _ in range(3)]
    assert replies[-1].success, replies[-1].error
    assert replies[-1].payload["columns"][-1] == "nickname"


async def test_a_row_returning_statement_without_a_row_count_keeps_its_rows(db_config: dict[str, Any]) -> None:
    show = {"show_timeout": {"action": "query", "side_effects": "none", "params": {"statement": "SHOW TimeZone"}}}
    async with hosted_node(EnumHandlerType.DB, db_config, show) as node:
        replies = [await node.call("show_timeout") for _ in range(2)]
    assert [len(r.payload["rows"]) for r in replies] == [1, 1], [r.error for r in replies]
    assert replies[0].payload == replies[1].payload
