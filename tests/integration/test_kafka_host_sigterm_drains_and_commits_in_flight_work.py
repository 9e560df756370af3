"""SIGTERM with 100 slow envelopes in flight: all answered and committed, then exit 0.

Black box: ``onex-host run`` as a subprocess fed through Kafka, in-flight
work read from its /metrics, committed offsets read back from the broker.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.support.builders.factories import command
from tests.support.builders.host_process import HostProcess
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, reading, unique_prefix
from tests.support.builders.kafka_host_contract import write_kafka_host
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SLOW = 100
PARTITIONS = 3


async def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return {p: await consumer.committed(TopicPartition(topic, p)) for p in range(PARTITIONS)}
    finally:
        await consumer.stop()


async def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(PARTITIONS)])
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def test_sigterm_answers_and_commits_100_in_flight_envelopes_then_exits_0(
    kafka_service: KafkaEndpoint, tmp_path: Path
) -> None:
    bootstrap = kafka_service.bootstrap
    config = bus_config(bootstrap, unique_prefix("sigterm"))
    await bus_topics(config, partitions=PARTITIONS)
    contract = write_kafka_host(tmp_path, config, max_concurrent=200, shutdown_timeout_seconds=30)
    requests = [command(operation="sleep", payload={"seconds": 3.0, "echo": {"i": i}}) for i in range(SLOW)]
    with HostProcess(contract, tmp_path) as host:
        await asyncio.to_thread(host.wait_ready, 60)
        async with reading(bootstrap, config.reply_topic) as replies:
            async with CommandProducer(bootstrap, config.command_topic) as producer:
                await producer.send_many(requests)
            async with asyncio.timeout(20):
                while await asyncio.to_thread(host.inflight) < SLOW:
                    await asyncio.sleep(0.05)
            assert replies.records == []  # all 100 are still running when the signal arrives
            started = time.monotonic()
            exit_code = await asyncio.to_thread(host.terminate, 40)
            stopped_after = time.monotonic() - started
            counts = await replies.wait_for_correlations({r.correlation_id for r in requests}, timeout=10)

        assert exit_code == 0, host.logs()[-3000:]
        assert stopped_after < 30
        assert set(counts) == {r.correlation_id for r in requests}
        assert max(counts.values()) == 1
        committed = await _committed(bootstrap, config.consumer_group, config.command_topic)
        assert committed == await _end_offsets(bootstrap, config.command_topic)
