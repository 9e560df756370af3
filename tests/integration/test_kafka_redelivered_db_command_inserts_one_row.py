"""A command record delivered twice through real Kafka inserts exactly one row in a real PostgreSQL (issue 15).

Black box, like test_kafka_host_executes_db_and_http_operations.py: ``onex-host
run`` consumes commands produced with plain aiokafka. Every command's identical
bytes are produced twice: once more under the same key (the same partition, one
after the other) and once more under another key (another partition, so the two
deliveries can run at the same time on the host). Then a second host, in a new
consumer group that starts from the earliest offset (what resetting the offsets
does), replays the whole topic. Each command must have exactly one row, and every
delivery the same successful answer.

Parametrised over ``event_bus.config.delivery``: until the Kafka bus implements
``exactly_once`` it runs the at-least-once bus, which is the case where the
database has to hold the line on its own.
"""

# ruff: noqa: S608  (SQL text is built from a table name generated per test, never from input)
from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import asyncpg
import pytest

from onex_host.core.enums import EnumHandlerType
from onex_host.core.envelope import ModelOnexEnvelope
from tests.support.builders.factories import command
from tests.support.builders.host_process import HostProcess
from tests.support.builders.kafka_bus import (
    CommandProducer,
    TopicReader,
    bus_config,
    create_topics,
    reading,
    unique_prefix,
)
from tests.support.builders.kafka_host_contract import write_kafka_host
from tests.support.builders.pg import scratch_table
from tests.support.provisioning.endpoints import KafkaEndpoint, PostgresEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

PASSWORD_ENV = "ONEX_TEST_PG_PASSWORD"
COMMANDS = 20


@pytest.fixture
async def orders(postgres_service: PostgresEndpoint) -> AsyncIterator[str]:
    async with scratch_table(postgres_service.dsn, "orders", "id bigserial PRIMARY KEY, item text NOT NULL") as name:
        yield name


def replay_log_lines(host: HostProcess) -> int:
    """The host's countable trace of a redelivery answered from the table (one JSON log line, reason label)."""
    count = 0
    for line in host.logs().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("reason") == "redelivery":
            count += 1
    return count


@pytest.mark.parametrize("delivery", ["at_least_once", "exactly_once"])
async def test_a_command_delivered_twice_and_replayed_inserts_one_row(
    kafka_service: KafkaEndpoint, postgres_service: PostgresEndpoint, orders: str, tmp_path: Path, delivery: str
) -> None:
    bootstrap = kafka_service.bootstrap
    prefix = unique_prefix("once")
    bus = bus_config(bootstrap, prefix, delivery=delivery)
    replay_bus = bus_config(bootstrap, prefix, delivery=delivery, consumer_group=f"{prefix}.replay")
    await create_topics(bootstrap, [bus.command_topic, bus.reply_topic, bus.effective_dead_letter_topic])
    shop = {
        "name": "shop",
        "operations": {
            "order": {"handler_type": "db", "action": "execute", "side_effects": "external",
                      "params": {"statement": f"INSERT INTO {orders} (item) VALUES ($1)"}},
        },
    }  # fmt: skip
    handlers = [
        {"handler_type": "db", "config": {
            "host": postgres_service.host, "port": postgres_service.port, "user": postgres_service.user,
            "password": f"${{{PASSWORD_ENV}}}", "database": postgres_service.database, "pool_max_size": 4}},
    ]  # fmt: skip
    nodes = {"shop": shop}
    commands = [
        command(target="shop", operation="order", handler_type=EnumHandlerType.DB, payload={"args": [f"item-{i}"]})
        for i in range(COMMANDS)
    ]
    env = {PASSWORD_ENV: postgres_service.password}

    async with reading(bootstrap, bus.reply_topic) as replies:
        async with CommandProducer(bootstrap, bus.command_topic) as producer:
            for request in commands:
                wire = request.to_wire()
                await producer.send_raw(wire, key=b"orders")
                await producer.send_raw(wire, key=b"orders")  # the same partition: after the first
                await producer.send_raw(wire, key=str(request.correlation_id).encode())  # maybe at the same time

        contract = write_kafka_host(tmp_path / "first", bus, nodes=nodes, handlers=handlers)
        with HostProcess(contract, tmp_path, env=env) as host:
            await asyncio.to_thread(host.wait_ready, 60)
            await _wait_for_replies(replies, commands, per_command=3)
            assert host.terminate() == 0
            first_run_replays = replay_log_lines(host)

        replay_contract = write_kafka_host(tmp_path / "replay", replay_bus, nodes=nodes, handlers=handlers)
        with HostProcess(replay_contract, tmp_path, env=env) as replayer:
            await asyncio.to_thread(replayer.wait_ready, 60)
            counts = await _wait_for_replies(replies, commands, per_command=6)
            assert replayer.terminate() == 0
            replay_run_replays = replay_log_lines(replayer)
        answers = replies.envelopes()

    conn = await asyncpg.connect(postgres_service.dsn)
    try:
        items = Counter(r["item"] for r in await conn.fetch(f"SELECT item FROM {orders}"))
    finally:
        await conn.close()

    print(
        f"\ndelivery={delivery}: {COMMANDS} commands x 3 records + replay: {len(answers)} replies, "
        f"{sum(items.values())} rows; answered from the table: {first_run_replays} (first host), "
        f"{replay_run_replays} (replay)"
    )
    assert items == Counter({f"item-{i}": 1 for i in range(COMMANDS)})
    assert set(counts.values()) == {6}
    for request in commands:
        mine = [a for a in answers if a.correlation_id == request.correlation_id]
        assert all(a.success for a in mine), [a.error for a in mine]
        assert {json.dumps(a.payload, sort_keys=True) for a in mine} == {'{"row_count": 1, "status": "INSERT 0 1"}'}
        assert {a.causation_id for a in mine} == {request.envelope_id}
    assert first_run_replays == 2 * COMMANDS
    assert replay_run_replays == 3 * COMMANDS


async def _wait_for_replies(
    replies: TopicReader, commands: list[ModelOnexEnvelope], *, per_command: int, timeout: float = 90
) -> Counter[UUID]:
    """Until every command has ``per_command`` replies; the counts per correlation id."""
    wanted = {c.correlation_id for c in commands}
    async with asyncio.timeout(timeout):
        while True:
            counts = replies.correlation_counts()
            if all(counts[c] >= per_command for c in wanted):
                return Counter({c: counts[c] for c in wanted})
            await asyncio.sleep(0.1)
