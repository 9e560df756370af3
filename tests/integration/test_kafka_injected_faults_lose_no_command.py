"""Errors raised at the aiokafka boundary, on a real broker: every command still ends in a reply or a dead letter.

Each case plans one error class at ``send``, ``commit`` or ``getmany``
(``tests.support.doubles.kafka_faults``: real clients, scripted failures), then sends
commands and poison records on a few keys. The invariant is checked from the
outside: replies + dead letters cover every record, and no offset commit ever
moved past a record that had neither at that moment.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    CommitFailedError,
    KafkaConnectionError,
    MessageSizeTooLargeError,
    NodeNotReadyError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumber,
    RebalanceInProgressError,
    RequestTimedOutError,
    TopicAuthorizationFailedError,
    UnknownProducerId,
)

from onex_host.infra.bus.kafka import KafkaEventBus, KafkaUnavailableError
from onex_host.infra.metrics import HostMetrics
from tests.support.builders.factories import command, echo_runtime
from tests.support.builders.kafka_bus import bus_config, bus_topics, headers_of, reading, unique_prefix
from tests.support.doubles.kafka_faults import Faults
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PARTITIONS = 2
COMMANDS, POISON = 12, 2

Case = tuple[str, Callable[[], BaseException], int, str | None]
"""(operation, error, how many times, on which topic: "reply" / "dlq" / None for any)."""

CASES: dict[str, Case] = {
    "send-connection": ("send", KafkaConnectionError, 3, None),
    "send-not-leader": ("send", NotLeaderForPartitionError, 3, None),
    "send-timeout": ("send", RequestTimedOutError, 2, None),
    "send-out-of-order": ("send", OutOfOrderSequenceNumber, 1, None),
    "send-unknown-producer": ("send", UnknownProducerId, 2, None),
    "send-kafka-unavailable": ("send", lambda: KafkaUnavailableError("brokers down"), 2, None),
    "send-reply-too-large": ("send", MessageSizeTooLargeError, 2, "reply"),
    "send-reply-not-authorised": ("send", TopicAuthorizationFailedError, 1, "reply"),
    "send-dlq-not-authorised": ("send", TopicAuthorizationFailedError, 2, "dlq"),
    "commit-failed": ("commit", CommitFailedError, 2, None),
    "commit-connection": ("commit", KafkaConnectionError, 3, None),
    "commit-rebalancing": ("commit", RebalanceInProgressError, 1, None),
    "commit-assertion": ("commit", lambda: AssertionError("Partition is not assigned"), 1, None),
    "getmany-connection": ("getmany", KafkaConnectionError, 3, None),
    "getmany-node-not-ready": ("getmany", NodeNotReadyError, 2, None),
    "getmany-assertion": ("getmany", lambda: AssertionError("aiokafka internal state"), 1, None),
    "getmany-value-error": ("getmany", lambda: ValueError("partition is not owned"), 1, None),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_an_injected_fault_loses_no_command_and_commits_past_nothing_unanswered(
    kafka_service: KafkaEndpoint, case: str
) -> None:
    operation, error, times, on = CASES[case]
    bootstrap = kafka_service.bootstrap
    config = bus_config(bootstrap, unique_prefix(f"fault-{case}"), max_consume_loop_restarts=3)
    await bus_topics(config, partitions=PARTITIONS)
    faults = Faults(config)
    if on is not None:
        topic = config.reply_topic if on == "reply" else config.effective_dead_letter_topic
        faults.send_filter = lambda t: t == topic
    faults.inject(operation, *[error] * times)
    runtime = await echo_runtime("echo")
    bus = KafkaEventBus(
        config, max_concurrent=4, metrics=HostMetrics(), build_consumer=faults.consumer, build_producer=faults.producer
    )
    sent: set[tuple[int, int]] = set()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    await bus.start(runtime.route_envelope)
    try:
        async with (
            reading(bootstrap, config.reply_topic) as replies,
            reading(bootstrap, config.effective_dead_letter_topic) as letters,
        ):
            for i in range(COMMANDS + POISON):
                key = f"key-{i % 3}".encode()
                if i < COMMANDS:
                    request = command(payload={"i": i})
                    meta = await producer.send_and_wait(config.command_topic, request.to_wire(), key=key)
                    faults.offsets_by_correlation[str(request.correlation_id)] = (meta.partition, meta.offset)
                else:
                    meta = await producer.send_and_wait(
                        config.command_topic, b"\x00 poison " + uuid.uuid4().bytes, key=key
                    )
                sent.add((meta.partition, meta.offset))
            async with asyncio.timeout(60):
                while not sent <= faults.answered:
                    await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # a commit or two after the last answer
            reasons = sorted(headers_of(r)["onex.dlq.reason"] for r in letters.records)
            print(f"{case}: injected {faults.injected}; {len(replies.records)} replies, dead letters {reasons}")
    finally:
        await bus.stop(timeout_seconds=10)
        await runtime.shutdown()
        await producer.stop()
    assert faults.injected, "the planned fault never fired: nothing was tested"
    assert faults.unanswered_below_commits(sent) == []
    assert await committed(bootstrap, config.consumer_group, config.command_topic) == await ends(
        bootstrap, config.command_topic
    )


async def committed(bootstrap: str, group: str, topic: str) -> dict[int, int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return {p: await consumer.committed(TopicPartition(topic, p)) for p in range(PARTITIONS)}
    finally:
        await consumer.stop()


async def ends(bootstrap: str, topic: str) -> dict[int, int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        offsets = await consumer.end_offsets([TopicPartition(topic, p) for p in range(PARTITIONS)])
        return {tp.partition: offset for tp, offset in offsets.items()}
    finally:
        await consumer.stop()
