"""In shadow mode a write operation (``side_effects: external``, a DbHandler insert) is answered
with ``shadow_skipped`` and writes nothing, while read-only operations still run (issue 6, test 2)."""

# ruff: noqa: S608  (SQL text is built from a table name generated per test, never from input)
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from onex_host.core.enums import EnumErrorCode, EnumHandlerType
from tests.support.builders.factories import command
from tests.support.builders.host_process import HostProcess
from tests.support.builders.kafka_bus import CommandProducer, bus_config, create_topics, reading, unique_prefix
from tests.support.builders.kafka_host_contract import write_kafka_host
from tests.support.builders.pg import scratch_table
from tests.support.provisioning.endpoints import KafkaEndpoint, PostgresEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

WRITES = 50
PASSWORD_ENV = "ONEX_TEST_PG_PASSWORD"


@pytest.fixture
async def ledger_table(postgres_service: PostgresEndpoint) -> AsyncIterator[str]:
    async with scratch_table(postgres_service.dsn, "ledger", "id int PRIMARY KEY, note text NOT NULL") as name:
        yield name


async def test_a_shadow_host_skips_writes_and_still_reads(
    kafka_service: KafkaEndpoint, postgres_service: PostgresEndpoint, ledger_table: str, tmp_path: Path
) -> None:
    bootstrap = kafka_service.bootstrap
    shadow = bus_config(bootstrap, unique_prefix("shadowdb"), mode="shadow")
    await create_topics(bootstrap, [shadow.command_topic, shadow.reply_topic, shadow.effective_dead_letter_topic])
    ledger = {
        "name": "ledger",
        "node_kind": "effect",
        "operations": {
            "record_entry": {
                "handler_type": "db",
                "action": "execute",
                "side_effects": "external",
                "params": {"statement": f"INSERT INTO {ledger_table} (id, note) VALUES ($1, $2)"},
            },
            "count_entries": {
                "handler_type": "db",
                "action": "query",
                "side_effects": "none",
                "params": {"statement": f"SELECT count(*) AS entries FROM {ledger_table}"},
            },
        },
    }
    db = {
        "host": postgres_service.host,
        "port": postgres_service.port,
        "user": postgres_service.user,
        "password": f"${{{PASSWORD_ENV}}}",
        "database": postgres_service.database,
        "pool_max_size": 4,
    }
    contract = write_kafka_host(
        tmp_path, shadow, mode="shadow", nodes={"ledger": ledger}, handlers=[{"handler_type": "db", "config": db}]
    )
    writes = [
        command(target="ledger", operation="record_entry", handler_type=EnumHandlerType.DB,
                payload={"args": [i, f"entry {i}"]})
        for i in range(WRITES)
    ]  # fmt: skip
    read = command(target="ledger", operation="count_entries", handler_type=EnumHandlerType.DB)

    with HostProcess(contract, tmp_path, env={PASSWORD_ENV: postgres_service.password}) as host:
        await asyncio.to_thread(host.wait_ready, 60)
        async with (
            reading(bootstrap, shadow.reply_topic) as replies,
            CommandProducer(bootstrap, shadow.command_topic) as producer,
        ):
            await producer.send_many([*writes, read])
            await replies.wait_for_correlations({c.correlation_id for c in [*writes, read]}, timeout=60)
            by_id = {e.correlation_id: e for e in replies.envelopes()}
        metrics = httpx.get(host.metrics_url, timeout=5).text

    for request in writes:
        reply = by_id[request.correlation_id]
        assert reply.success is False
        assert reply.error_code is EnumErrorCode.SHADOW_SKIPPED
        assert reply.payload["would_run"]["operation"] == "record_entry"
        assert reply.payload["would_run"]["payload"] == request.payload
    count = by_id[read.correlation_id]
    assert count.success is True, count.error
    assert count.payload["rows"] == [{"entries": 0}]

    conn = await asyncpg.connect(postgres_service.dsn)
    try:
        rows = await conn.fetchval(f"SELECT count(*) FROM {ledger_table}")
    finally:
        await conn.close()
    print(f"\nshadow host: {WRITES} writes answered shadow_skipped, rows written: {rows}")
    assert rows == 0
    skipped = [
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "onex_envelopes_total"
        and sample.labels
        == {"mode": "shadow", "node": "ledger", "operation": "record_entry", "outcome": "shadow_skipped"}
    ]
    assert skipped == [WRITES]
