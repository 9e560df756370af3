"""The broker stops and restarts mid-stream: the bus reconnects and every command is still answered."""

from __future__ import annotations

import asyncio

import pytest

from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.metrics import HostMetrics
from tests.support.builders.factories import command, echo_runtime
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, reading, unique_prefix
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

BEFORE, AFTER = 300, 50


async def test_broker_restart_mid_stream_loses_no_command(kafka_service: KafkaEndpoint) -> None:
    controller = kafka_service.controller
    if controller is None:
        pytest.skip("this session's Kafka broker is not restartable (given by the environment or a container)")
    bootstrap = kafka_service.bootstrap
    config = bus_config(bootstrap, unique_prefix("restart"))
    await bus_topics(config, partitions=3)
    runtime = await echo_runtime("echo")
    bus = KafkaEventBus(config, max_concurrent=8, metrics=HostMetrics())
    before = [command(operation="sleep", payload={"seconds": 0.01, "echo": {"i": i}}) for i in range(BEFORE)]
    after = [command(payload={"after": i}) for i in range(AFTER)]
    await bus.start(runtime.route_envelope)
    try:
        async with reading(bootstrap, config.reply_topic) as replies:
            async with CommandProducer(bootstrap, config.command_topic) as producer:
                await producer.send_many(before)
            async with asyncio.timeout(30):
                while len(replies.records) < BEFORE // 5:
                    await asyncio.sleep(0.01)
            answered_before_stop = len(replies.records)
            await asyncio.to_thread(controller.stop)
            await asyncio.sleep(2)
            # Not in a worker thread: the native broker's parent-death signal is tied to the
            # spawning thread, and the executor's threads end with this test's event loop.
            controller.start()

            counts = await replies.wait_for_correlations({r.correlation_id for r in before}, timeout=90)
            async with CommandProducer(bootstrap, config.command_topic) as producer:
                await producer.send_many(after)
            counts = await replies.wait_for_correlations({r.correlation_id for r in after}, timeout=60)

        assert answered_before_stop < BEFORE, "the broker stopped after everything was answered: nothing was tested"
        duplicates = sum(n - 1 for n in counts.values())
        print(f"broker restart: {BEFORE + AFTER} commands, {duplicates} duplicate replies (at-least-once)")
        assert bus.health().live is True
    finally:
        await bus.stop(timeout_seconds=15)
        await runtime.shutdown()
