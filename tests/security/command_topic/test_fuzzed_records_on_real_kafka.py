"""A sample of the fuzz space (``fuzz.RECORDS``) on a real broker: each record gets a reply or a dead letter.

The broker-less test runs hundreds of cases through the same per-record
path; this one proves the same end on Kafka (codec, consume loop, commits,
real produce) for a few dozen, all on one key so a stuck record would block
the rest.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.metrics import HostMetrics
from tests.security.command_topic.fuzz import RECORDS
from tests.support.builders.factories import echo_runtime
from tests.support.builders.kafka_bus import bus_config, bus_topics, unique_prefix
from tests.support.doubles.kafka_faults import Faults
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = pytest.mark.kafka

SAMPLE = 40


async def _run(bootstrap: str, records: list[bytes]) -> tuple[int, int]:
    config = bus_config(bootstrap, unique_prefix("fuzz"), allowed_reply_topics=["ok.topic"])
    await bus_topics(config, partitions=1, extra=["ok.topic"])
    faults = Faults(config)  # no faults planned: only the evidence of what was answered
    runtime = await echo_runtime("echo")
    bus = KafkaEventBus(
        config, max_concurrent=8, metrics=HostMetrics(), build_consumer=faults.consumer, build_producer=faults.producer
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=2_000_000)
    await producer.start()
    await bus.start(runtime.route_envelope)
    sent: set[tuple[int, int]] = set()
    try:
        for value in records:
            meta = await producer.send_and_wait(config.command_topic, value, key=b"one-lane")
            sent.add((meta.partition, meta.offset))
            faults.offsets_by_correlation.update(_correlation(value, meta.partition, meta.offset))
        async with asyncio.timeout(60):
            while not sent <= faults.answered:
                await asyncio.sleep(0.1)
    finally:
        await bus.stop(timeout_seconds=10)
        await runtime.shutdown()
        await producer.stop()
    assert faults.unanswered_below_commits(sent) == []
    return len(sent), len(faults.answered & sent)


def _correlation(value: bytes, partition: int, offset: int) -> dict[str, tuple[int, int]]:
    try:
        document = json.loads(value)
        return {str(document["correlation_id"]): (partition, offset)}
    except Exception:
        return {}


@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
@given(records=st.lists(RECORDS, min_size=SAMPLE, max_size=SAMPLE))
def test_a_fuzzed_sample_on_real_kafka_is_answered_or_dead_lettered_record_by_record(
    kafka_service: KafkaEndpoint, records: list[bytes]
) -> None:
    total, ended = asyncio.run(_run(kafka_service.bootstrap, records))
    print(f"\nreal-Kafka fuzz sample: {total} records, {ended} answered or dead-lettered")
    assert ended == total
