"""``delivery: exactly_once`` under attack on a real broker: every command answered once to a read_committed reader.

Each test streams commands while something moves the partitions or breaks
the transactions: hosts joining and leaving, a producer started with a
host's transactional id (a new owner fencing it), the broker stopped and
started mid-transaction. A plain ``read_committed`` reader then counts the
replies per correlation id: none may be missing, none may be there twice,
and nothing may be dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer

from onex_host.infra.bus.kafka import KafkaBusConfig, KafkaEventBus
from onex_host.infra.metrics import HostMetrics
from onex_host.runtime.node_runtime import NodeRuntime
from tests.support.builders.factories import command, echo_runtime
from tests.support.builders.kafka_bus import (
    CommandProducer,
    TopicReader,
    bus_config,
    bus_topics,
    reading,
    unique_prefix,
)
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def eos_config(kafka: KafkaEndpoint, name: str) -> KafkaBusConfig:
    return bus_config(kafka.bootstrap, unique_prefix(name), delivery="exactly_once", session_timeout_ms=6_000)


@contextlib.asynccontextmanager
async def host(config: KafkaBusConfig, runtime: NodeRuntime) -> AsyncIterator[KafkaEventBus]:
    bus = KafkaEventBus(config, max_concurrent=16, metrics=HostMetrics())
    await bus.start(runtime.route_envelope)
    try:
        yield bus
    finally:
        await bus.stop(timeout_seconds=15)


async def wait_until_joined(*buses: KafkaEventBus, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not all(bus.health().ready for bus in buses):
            await asyncio.sleep(0.05)


async def stream(config: KafkaBusConfig, count: int, per_second: float) -> list[object]:
    requests = [command(operation="sleep", payload={"seconds": 0.002, "echo": {"i": i}}) for i in range(count)]
    async with CommandProducer(config.bootstrap_servers[0], config.command_topic) as producer:
        for start in range(0, count, 20):
            await producer.send_many(requests[start : start + 20])
            await asyncio.sleep(20 / per_second)
    return [r.correlation_id for r in requests]


def assert_exactly_once(replies: TopicReader, dead_letters: TopicReader, wanted: set[object], what: str) -> None:
    counts = replies.correlation_counts()
    duplicates = sum(n - 1 for n in counts.values())
    print(f"\n{what}: {len(wanted)} commands, {len(replies.records)} committed replies, {duplicates} duplicates")
    assert set(counts) == wanted
    assert duplicates == 0, f"{duplicates} commands answered twice to a read_committed reader"
    assert not dead_letters.records


async def test_hosts_joining_and_leaving_during_the_stream_answer_each_command_once(
    kafka_service: KafkaEndpoint,
) -> None:
    config = eos_config(kafka_service, "eos-rebalance")
    await bus_topics(config, partitions=6)
    runtime = await echo_runtime("echo")
    bootstrap = kafka_service.bootstrap
    try:
        async with (
            reading(bootstrap, config.reply_topic, "read_committed") as replies,
            reading(bootstrap, config.effective_dead_letter_topic, "read_committed") as dead_letters,
            contextlib.AsyncExitStack() as hosts,
        ):
            first = await hosts.enter_async_context(host(config, runtime))
            await wait_until_joined(first)
            sending = asyncio.create_task(stream(config, 1500, per_second=250))
            # Membership changes every ~1.5 s while commands flow: join, join, leave, join, leave.
            joined = [first]
            for step in ("join", "join", "leave", "join", "leave"):
                await asyncio.sleep(1.5)
                if step == "join":
                    joined.append(await hosts.enter_async_context(host(config, runtime)))
                else:
                    await joined.pop(0).stop(timeout_seconds=15)
            wanted = set(await sending)
            await replies.wait_for_correlations(wanted, timeout=90)  # type: ignore[arg-type]
            await asyncio.sleep(2)
            assert_exactly_once(replies, dead_letters, wanted, "five membership changes mid-stream")
    finally:
        await runtime.shutdown()


async def test_a_producer_fenced_by_a_new_owner_commits_nothing_more_and_nothing_is_answered_twice(
    kafka_service: KafkaEndpoint,
) -> None:
    config = eos_config(kafka_service, "eos-fence")
    await bus_topics(config, partitions=2)
    runtime = await echo_runtime("echo")
    bootstrap = kafka_service.bootstrap
    try:
        async with (
            reading(bootstrap, config.reply_topic, "read_committed") as replies,
            reading(bootstrap, config.effective_dead_letter_topic, "read_committed") as dead_letters,
            host(config, runtime) as bus,
        ):
            await wait_until_joined(bus)
            sending = asyncio.create_task(stream(config, 800, per_second=200))
            await asyncio.sleep(1.5)
            # What a new owner does first: start the partition's transactional id, which fences the host's producer.
            txn_id = f"{config.effective_consumer_group}.{config.command_topic}.0"
            fencer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=txn_id)
            await fencer.start()
            await fencer.stop()
            wanted = set(await sending)
            await replies.wait_for_correlations(wanted, timeout=90)  # type: ignore[arg-type]
            await asyncio.sleep(2)
            assert_exactly_once(replies, dead_letters, wanted, "host's producer fenced mid-stream")
            assert bus._outbox is not None
            print(f"aborted transactions: {bus._outbox.aborted_transactions}")
    finally:
        await runtime.shutdown()


async def test_a_broker_restart_mid_transaction_loses_nothing_and_answers_nothing_twice(
    kafka_service: KafkaEndpoint,
) -> None:
    controller = kafka_service.controller
    if controller is None:
        pytest.skip("this session's Kafka broker is not restartable (given by the environment or a container)")
    config = eos_config(kafka_service, "eos-restart")
    await bus_topics(config, partitions=3)
    runtime = await echo_runtime("echo")
    bootstrap = kafka_service.bootstrap
    before = [command(operation="sleep", payload={"seconds": 0.01, "echo": {"i": i}}) for i in range(300)]
    try:
        async with host(config, runtime) as bus:
            await wait_until_joined(bus)
            async with reading(bootstrap, config.reply_topic, "read_committed") as replies:
                async with CommandProducer(bootstrap, config.command_topic) as producer:
                    await producer.send_many(before)
                async with asyncio.timeout(30):
                    while len(replies.records) < 40:
                        await asyncio.sleep(0.01)
                answered = len(replies.records)
            await asyncio.to_thread(controller.stop)
            await asyncio.sleep(2)
            controller.start()  # in this thread: see test_kafka_broker_restart_loses_no_command
            async with (
                reading(bootstrap, config.reply_topic, "read_committed") as replies,
                reading(bootstrap, config.effective_dead_letter_topic, "read_committed") as dead_letters,
            ):
                wanted = {r.correlation_id for r in before}
                await replies.wait_for_correlations(wanted, timeout=120)
                await asyncio.sleep(2)
                assert answered < len(before), "the broker stopped after everything was answered: nothing was tested"
                assert_exactly_once(replies, dead_letters, wanted, "broker restarted mid-stream")  # type: ignore[arg-type]
            assert bus.health().live
    finally:
        await runtime.shutdown()
