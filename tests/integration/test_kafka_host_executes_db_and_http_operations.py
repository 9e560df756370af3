"""Event bus -> runtime -> real handler -> reply, over Kafka, for the db and http handlers (issue 4).

Black box: commands are produced with plain aiokafka, ``onex-host run`` executes them
against a real PostgreSQL and a real local HTTP server, replies are read back from
the response topic, and the database is checked directly.
"""

# ruff: noqa: S608  (SQL text is built from a table name generated per test, never from input)
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from onex_host.core.enums import EnumErrorCode, EnumHandlerType
from tests.support.builders.factories import command
from tests.support.builders.host_process import HostProcess
from tests.support.builders.kafka_bus import CommandProducer, bus_config, create_topics, reading, unique_prefix
from tests.support.builders.kafka_host_contract import write_kafka_host
from tests.support.builders.pg import scratch_table
from tests.support.provisioning.endpoints import KafkaEndpoint, PostgresEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.http, pytest.mark.slow]

PASSWORD_ENV = "ONEX_TEST_PG_PASSWORD"


@pytest.fixture
async def accounts(postgres_service: PostgresEndpoint) -> AsyncIterator[str]:
    columns = "id int PRIMARY KEY, balance int NOT NULL CHECK (balance >= 0)"
    async with scratch_table(postgres_service.dsn, "accounts", columns) as name:
        yield name


@pytest.fixture
async def catalogue() -> AsyncIterator[str]:
    async def item(request: web.Request) -> web.Response:
        return web.json_response({"item": request.match_info["name"], "price": 42})

    app = web.Application()
    app.router.add_get("/items/{name}", item)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/")


async def test_db_and_http_operations_run_through_kafka(
    kafka_service: KafkaEndpoint, postgres_service: PostgresEndpoint, accounts: str, catalogue: str, tmp_path: Path
) -> None:
    bootstrap = kafka_service.bootstrap
    bus = bus_config(bootstrap, unique_prefix("handlers"))
    await create_topics(bootstrap, [bus.command_topic, bus.reply_topic, bus.effective_dead_letter_topic])
    ledger = {
        "name": "ledger",
        "operations": {
            "open": {"handler_type": "db", "action": "execute", "side_effects": "external",
                     "params": {"statement": f"INSERT INTO {accounts} (id, balance) VALUES ($1, $2)"}},
            "balance": {"handler_type": "db", "action": "query", "side_effects": "none",
                        "params": {"statement": f"SELECT balance FROM {accounts} WHERE id = $1"}},
            "transfer": {"handler_type": "db", "action": "transaction", "side_effects": "external",
                         "params": {"statements": {
                             "debit": f"UPDATE {accounts} SET balance = balance - $2 WHERE id = $1",
                             "credit": f"UPDATE {accounts} SET balance = balance + $2 WHERE id = $1",
                         }}},
        },
    }  # fmt: skip
    shop = {
        "name": "shop",
        "operations": {
            "price": {"handler_type": "http", "action": "request", "side_effects": "none",
                      "params": {"method": "GET", "base_url": catalogue}},
        },
    }  # fmt: skip
    handlers = [
        {"handler_type": "db", "config": {
            "host": postgres_service.host, "port": postgres_service.port, "user": postgres_service.user,
            "password": f"${{{PASSWORD_ENV}}}", "database": postgres_service.database, "pool_max_size": 4}},
        {"handler_type": "http", "config": {"allowed_hosts": ["127.0.0.1"], "timeout_seconds": 5}},
    ]  # fmt: skip
    contract = write_kafka_host(tmp_path, bus, mode="primary", nodes={"ledger": ledger, "shop": shop},
                                handlers=handlers)  # fmt: skip

    def db(operation: str, payload: dict[str, object]) -> object:
        return command(target="ledger", operation=operation, handler_type=EnumHandlerType.DB, payload=payload)

    opened = [db("open", {"args": [1, 100]}), db("open", {"args": [2, 0]})]
    transfers = [
        db("transfer", {"steps": [{"statement": "debit", "args": [1, 30]}, {"statement": "credit", "args": [2, 30]}]}),
        # would overdraw account 1: the CHECK fails on the debit and the credit must not survive
        db(
            "transfer", {"steps": [{"statement": "credit", "args": [2, 500]}, {"statement": "debit", "args": [1, 500]}]}
        ),
    ]
    price = command(target="shop", operation="price", handler_type=EnumHandlerType.HTTP, payload={"path": "/items/tea"})
    wrong_node = command(target="ledger", operation="price", handler_type=EnumHandlerType.HTTP)

    with HostProcess(contract, tmp_path, env={PASSWORD_ENV: postgres_service.password}) as host:
        await asyncio.to_thread(host.wait_ready, 60)
        async with (
            reading(bootstrap, bus.reply_topic) as replies,
            CommandProducer(bootstrap, bus.command_topic) as producer,
        ):
            # Same key for the ledger commands: the bus keeps their order within one key.
            for request in [*opened, *transfers]:
                await producer.send(request, key=b"ledger")
            await producer.send(price)
            await producer.send(wrong_node)
            everything = [*opened, *transfers, price, wrong_node]
            await replies.wait_for_correlations({r.correlation_id for r in everything}, timeout=60)
            by_id = {e.correlation_id: e for e in replies.envelopes()}
        assert host.terminate() == 0

    assert all(by_id[r.correlation_id].success for r in opened), [by_id[r.correlation_id].error for r in opened]
    committed, rolled_back = (by_id[t.correlation_id] for t in transfers)
    assert committed.success is True, committed.error
    assert rolled_back.success is False
    assert rolled_back.payload["sqlstate"] == "23514"
    assert rolled_back.payload["rolled_back"] is True

    fetched = by_id[price.correlation_id]
    assert fetched.success is True, fetched.error
    assert fetched.source_node == "shop"
    assert (fetched.payload["status"], fetched.payload["body"]) == (200, {"item": "tea", "price": 42})

    refused = by_id[wrong_node.correlation_id]
    assert refused.error_code is EnumErrorCode.UNKNOWN_OPERATION

    conn = await asyncpg.connect(postgres_service.dsn)
    try:
        balances = dict(await conn.fetch(f"SELECT id, balance FROM {accounts} ORDER BY id"))
    finally:
        await conn.close()
    assert balances == {1: 70, 2: 30}
