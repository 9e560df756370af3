"""Kafka-only checks of the bus on a real broker; the shared event-bus suite is in tests/contract/bus."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.partitioner import DefaultPartitioner

from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.metrics import HostMetrics
from tests.support.builders.factories import command, echo_runtime
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, reading, unique_prefix
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = pytest.mark.kafka


async def test_commands_are_routed_by_target_node_across_several_nodes(kafka_service: KafkaEndpoint) -> None:
    config = bus_config(kafka_service.bootstrap, unique_prefix("routing"))
    await bus_topics(config)
    runtime = await echo_runtime("alpha", "beta")
    bus = KafkaEventBus(config, max_concurrent=8, metrics=HostMetrics())
    await bus.start(runtime.route_envelope)
    try:
        requests = [command(target=slug, payload={"i": i}) for i in range(10) for slug in ("alpha", "beta")]
        async with (
            reading(kafka_service.bootstrap, config.reply_topic) as replies,
            CommandProducer(kafka_service.bootstrap, config.command_topic) as producer,
        ):
            await producer.send_many(requests)
            await replies.wait_for_correlations({r.correlation_id for r in requests}, timeout=30)
            by_correlation = {e.correlation_id: e for e in replies.envelopes()}
        for request in requests:
            reply = by_correlation[request.correlation_id]
            assert reply.success is True
            assert reply.source_node == request.target_node
            assert reply.payload == request.payload
        assert {r.key for r in replies.records} == {str(r.correlation_id).encode() for r in requests}
        # Where any Kafka client's default partitioner puts the key (the host's own murmur2 must agree).
        partitions = [0, 1, 2]
        assert [r.partition for r in replies.records] == [
            DefaultPartitioner()(r.key, partitions, partitions) for r in replies.records
        ]
    finally:
        await bus.stop(timeout_seconds=10)
        await runtime.shutdown()


async def test_commands_with_the_same_key_are_answered_in_order(kafka_service: KafkaEndpoint) -> None:
    config = bus_config(kafka_service.bootstrap, unique_prefix("order"))
    await bus_topics(config)
    runtime = await echo_runtime("echo")
    bus = KafkaEventBus(config, max_concurrent=8, metrics=HostMetrics())
    await bus.start(runtime.route_envelope)
    try:
        # Decreasing sleeps: without per-key ordering later commands would finish first.
        requests = [command(operation="sleep", payload={"seconds": 0.05 * (5 - i), "echo": {"i": i}}) for i in range(5)]
        async with (
            reading(kafka_service.bootstrap, config.reply_topic) as replies,
            CommandProducer(kafka_service.bootstrap, config.command_topic) as producer,
        ):
            for request in requests:
                await producer.send(request, key=b"entity-42")
            await replies.wait_for(5, timeout=30)
        assert [e.payload["i"] for e in replies.envelopes()] == [0, 1, 2, 3, 4]
    finally:
        await bus.stop(timeout_seconds=10)
        await runtime.shutdown()


async def test_health_is_live_and_ready_once_joined_and_reports_the_assignment(kafka_service: KafkaEndpoint) -> None:
    config = bus_config(kafka_service.bootstrap, unique_prefix("health"))
    await bus_topics(config)
    runtime = await echo_runtime("echo")
    bus = KafkaEventBus(config, max_concurrent=2, metrics=HostMetrics())
    assert bus.health().live is False
    await bus.start(runtime.route_envelope)
    try:
        async with asyncio.timeout(20):
            while not bus.health().ready:
                await asyncio.sleep(0.05)
        health = bus.health()
        assert health.live is True
        assert health.details["assigned_partitions"] == [f"{config.command_topic}[{p}]" for p in range(3)]
        assert health.details["assigned_partition_count"] == 3
    finally:
        await bus.stop(timeout_seconds=10)
        await runtime.shutdown()
    assert bus.health().ready is False


async def test_a_member_beyond_the_partition_count_is_ready_with_no_partitions(kafka_service: KafkaEndpoint) -> None:
    """More replicas than partitions: the one left without a partition is joined, so Ready (issue 13)."""
    config = bus_config(kafka_service.bootstrap, unique_prefix("spare"))
    await bus_topics(config, partitions=1)
    runtime = await echo_runtime("echo")
    buses = [KafkaEventBus(config, max_concurrent=2, metrics=HostMetrics()) for _ in range(2)]
    try:
        for bus in buses:
            await bus.start(runtime.route_envelope)

        def settled() -> bool:
            counts = sorted(b.health().details["assigned_partition_count"] for b in buses)
            return counts == [0, 1] and all(b.health().ready for b in buses)

        async with asyncio.timeout(30):
            while not settled():
                await asyncio.sleep(0.05)
        spare = next(b for b in buses if b.health().details["assigned_partition_count"] == 0)
        health = spare.health()
        assert (health.live, health.ready, health.details["joined"]) == (True, True, True)
        assert health.details["assigned_partitions"] == []
    finally:
        for bus in buses:
            await bus.stop(timeout_seconds=10)
        await runtime.shutdown()
