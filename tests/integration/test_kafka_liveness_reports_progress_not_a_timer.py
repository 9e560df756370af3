"""Liveness is progress: a long rebalance that makes progress stays live; a dead coordinator does not."""

from __future__ import annotations

import asyncio

import pytest

from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.metrics import HostMetrics
from tests.support.builders.factories import command, echo_runtime
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, reading, unique_prefix
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

LIVENESS_S = 2.0


async def test_a_rebalance_longer_than_the_liveness_timeout_that_makes_progress_keeps_the_host_live(
    kafka_service: KafkaEndpoint,
) -> None:
    bootstrap = kafka_service.bootstrap
    config = bus_config(
        bootstrap, unique_prefix("slowrebalance"), liveness_timeout_seconds=LIVENESS_S, revoke_drain_timeout_seconds=10
    )
    await bus_topics(config, partitions=2)
    runtime = await echo_runtime("echo")
    first = KafkaEventBus(config, max_concurrent=4, metrics=HostMetrics())
    second = KafkaEventBus(config, max_concurrent=4, metrics=HostMetrics())
    await first.start(runtime.route_envelope)
    seen_dead: list[float] = []
    try:
        async with (
            reading(bootstrap, config.reply_topic) as replies,
            CommandProducer(bootstrap, config.command_topic) as producer,
        ):
            slow = [command(operation="sleep", payload={"seconds": 3 * LIVENESS_S, "echo": {"i": i}}) for i in range(2)]
            async with asyncio.timeout(20):
                while not first.health().ready:
                    await asyncio.sleep(0.05)
            await producer.send_many(slow)
            await asyncio.sleep(0.5)  # the slow commands are running: the revoke below waits for them
            started = asyncio.get_running_loop().time()
            await second.start(runtime.route_envelope)
            while asyncio.get_running_loop().time() - started < 3 * LIVENESS_S + 2:
                if not first.health().live:
                    seen_dead.append(asyncio.get_running_loop().time() - started)
                await asyncio.sleep(0.05)
            await replies.wait_for_correlations({r.correlation_id for r in slow}, timeout=30)
    finally:
        await second.stop(timeout_seconds=10)
        await first.stop(timeout_seconds=10)
        await runtime.shutdown()
    assert seen_dead == [], f"reported dead {len(seen_dead)} times during a rebalance that made progress"


async def test_a_dead_coordinator_reports_the_host_not_live(kafka_service: KafkaEndpoint) -> None:
    controller = kafka_service.controller
    if controller is None:
        pytest.skip("this session's Kafka broker is not restartable (given by the environment or a container)")
    bootstrap = kafka_service.bootstrap
    config = bus_config(bootstrap, unique_prefix("deadcoord"), liveness_timeout_seconds=LIVENESS_S)
    await bus_topics(config, partitions=1)
    runtime = await echo_runtime("echo")
    bus = KafkaEventBus(config, max_concurrent=4, metrics=HostMetrics())
    await bus.start(runtime.route_envelope)
    try:
        async with asyncio.timeout(20):
            while not bus.health().ready:
                await asyncio.sleep(0.05)
        await asyncio.to_thread(controller.stop)
        try:
            async with asyncio.timeout(LIVENESS_S + 30):
                while bus.health().live:
                    await asyncio.sleep(0.1)
            assert bus.health().ready is False
        finally:
            controller.start()  # not in a worker thread: see test_kafka_broker_restart_loses_no_command
        async with asyncio.timeout(60):
            while not bus.health().ready:
                await asyncio.sleep(0.1)
        async with (
            reading(bootstrap, config.reply_topic) as replies,
            CommandProducer(bootstrap, config.command_topic) as producer,
        ):
            after = command(payload={"after": True})
            await producer.send(after)
            await replies.wait_for_correlations({after.correlation_id}, timeout=30)
    finally:
        await bus.stop(timeout_seconds=10)
        await runtime.shutdown()
