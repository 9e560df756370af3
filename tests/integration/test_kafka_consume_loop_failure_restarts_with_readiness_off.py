"""The consume loop is supervised: a failure turns readiness off, the loop restarts, later commands are answered.

Failures are injected at the aiokafka boundary (``tests.support.doubles.kafka_faults``)
or in the rebalance listener, on a real broker.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition

from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.metrics import HostMetrics
from tests.support.builders.factories import command, echo_runtime
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, reading, unique_prefix
from tests.support.doubles.kafka_faults import Faults
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = pytest.mark.kafka


async def _until(condition: Any, timeout: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"not within {timeout}s: {what}") from None


async def test_a_consume_loop_that_dies_turns_readiness_off_restarts_and_answers_later_commands(
    kafka_service: KafkaEndpoint,
) -> None:
    bootstrap = kafka_service.bootstrap
    config = bus_config(bootstrap, unique_prefix("loopdies"))
    await bus_topics(config, partitions=2)
    faults = Faults(config)
    runtime = await echo_runtime("echo")
    bus = KafkaEventBus(
        config, max_concurrent=4, metrics=HostMetrics(), build_consumer=faults.consumer, build_producer=faults.producer
    )
    await bus.start(runtime.route_envelope)
    try:
        async with (
            reading(bootstrap, config.reply_topic) as replies,
            CommandProducer(bootstrap, config.command_topic) as producer,
        ):
            before = [command(payload={"before": i}) for i in range(3)]
            await producer.send_many(before)
            await replies.wait_for_correlations({r.correlation_id for r in before}, timeout=30)
            assert bus.health().ready is True
            faults.inject("getmany", lambda: RuntimeError("injected: the loop dies"))
            await _until(lambda: not bus.health().ready, 10, "readiness turned off after the loop failed")
            failed = bus.health()
            assert failed.live is True
            assert "RuntimeError" in str(failed.details["last_failure"])
            await _until(lambda: bus.health().ready, 30, "ready again after the restart")
            after = [command(payload={"after": i}) for i in range(5)]
            await producer.send_many(after)
            await replies.wait_for_correlations({r.correlation_id for r in after}, timeout=30)
            assert bus.health().details["restarts"] == 1
    finally:
        await bus.stop(timeout_seconds=10)
        await runtime.shutdown()


async def test_a_loop_that_keeps_failing_ends_liveness_so_the_orchestrator_restarts_the_host(
    kafka_service: KafkaEndpoint,
) -> None:
    config = bus_config(kafka_service.bootstrap, unique_prefix("loopgivesup"), max_consume_loop_restarts=2)
    await bus_topics(config, partitions=1)
    faults = Faults(config)
    faults.inject("getmany", *[lambda: AssertionError("aiokafka internal state")] * 10)
    runtime = await echo_runtime("echo")
    bus = KafkaEventBus(
        config, max_concurrent=4, metrics=HostMetrics(), build_consumer=faults.consumer, build_producer=faults.producer
    )
    await bus.start(runtime.route_envelope)
    try:
        await _until(lambda: not bus.health().live, 30, "liveness failed after the restarts ran out")
        assert bus.health().ready is False
        assert len(faults.injected) == 3  # the first run and two restarts, then no more spinning
    finally:
        await bus.stop(timeout_seconds=10)
        await runtime.shutdown()


async def test_a_revoke_whose_listener_raises_leaves_no_stale_state(kafka_service: KafkaEndpoint) -> None:
    bootstrap = kafka_service.bootstrap
    config = bus_config(bootstrap, unique_prefix("revokeraises"))
    await bus_topics(config, partitions=4)
    runtime = await echo_runtime("echo")
    first = KafkaEventBus(config, max_concurrent=4, metrics=HostMetrics())
    second = KafkaEventBus(config, max_concurrent=4, metrics=HostMetrics())
    real_commit = first._committer.commit
    raised: list[set[TopicPartition]] = []

    async def commit_that_raises_in_the_revoke(partitions: set[TopicPartition] | None = None, **kw: Any) -> None:
        if partitions is not None and not raised:
            raised.append(partitions)
            raise RuntimeError("injected: the revoke listener fails half way")
        await real_commit(partitions, **kw)

    first._committer.commit = commit_that_raises_in_the_revoke  # type: ignore[method-assign]
    await first.start(runtime.route_envelope)
    try:
        async with (
            reading(bootstrap, config.reply_topic) as replies,
            CommandProducer(bootstrap, config.command_topic) as producer,
        ):
            warmup = [command(payload={"warmup": i}) for i in range(8)]
            await producer.send_many(warmup)
            await replies.wait_for_correlations({r.correlation_id for r in warmup}, timeout=30)
            await second.start(runtime.route_envelope)
            await _until(lambda: raised and first.health().ready and second.health().ready, 60, "both hosts ready")
            assert first._consumer is not None
            await _until(
                lambda: set(first._dispatcher.partitions) == set(first._consumer.assignment()),  # type: ignore[union-attr]
                30,
                "the first host's partition state is its assignment, fresh",
            )
            later = [command(payload={"later": i}) for i in range(20)]
            await producer.send_many(later)
            await replies.wait_for_correlations({r.correlation_id for r in later}, timeout=30)
    finally:
        await second.stop(timeout_seconds=10)
        await first.stop(timeout_seconds=10)
        await runtime.shutdown()


async def test_stop_closes_the_consumer_and_the_producer_whatever_failed_before(kafka_service: KafkaEndpoint) -> None:
    config = bus_config(kafka_service.bootstrap, unique_prefix("stopfails"))
    await bus_topics(config, partitions=1)
    runtime = await echo_runtime("echo")
    bus = KafkaEventBus(config, max_concurrent=4, metrics=HostMetrics())
    await bus.start(runtime.route_envelope)
    try:
        await _until(lambda: bus.health().ready, 30, "ready")

        async def drain_that_fails(_timeout: float) -> bool:
            raise RuntimeError("injected: the drain fails")

        bus._dispatcher.drain = drain_that_fails  # type: ignore[method-assign]
        await bus.stop(timeout_seconds=10)
        consumer, producer = bus._consumer, bus._sender._producer
        assert consumer is not None
        assert producer is not None
        assert consumer._closed is True
        assert producer._closed is True
    finally:
        await runtime.shutdown()
