"""The Kafka bus passes the shared event-bus suite against a real broker, plus Kafka-only checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.metrics import HostMetrics
from tests.support.bus_suite import EventBusSuite
from tests.support.endpoints import KafkaEndpoint
from tests.support.factories import command, echo_runtime
from tests.support.kafka_bus import CommandProducer, TopicReader, bus_config, bus_topics, reading, unique_prefix

pytestmark = pytest.mark.kafka

MAX_CONCURRENT = 8  # above the 5 envelopes the suite's drain test sends: stop drains what was accepted


class KafkaHarness:
    def __init__(self, config: KafkaBusConfig, producer: CommandProducer) -> None:
        self.config = config
        self.bus = KafkaEventBus(config, max_concurrent=MAX_CONCURRENT, metrics=HostMetrics())
        self.max_concurrent = MAX_CONCURRENT
        self._producer = producer
        self._readers: dict[str, TopicReader] = {}
        self._seen: dict[str, int] = {}

    async def send(self, envelope: ModelOnexEnvelope) -> None:
        # The suite's timing assumes a consuming bus; joining the group takes a moment on Kafka.
        async with asyncio.timeout(20):
            while self.bus.health().live and not self.bus.health().ready:
                await asyncio.sleep(0.05)
        await self._producer.send(envelope)

    async def next_reply(self, destination: str | None = None) -> ModelOnexEnvelope:
        topic = destination or self.config.reply_topic
        reader = self._readers.get(topic)
        if reader is None:
            reader = self._readers[topic] = await TopicReader(self.config.bootstrap_servers[0], topic).__aenter__()
        index = self._seen.get(topic, 0)
        await reader.wait_for(index + 1, timeout=30)
        self._seen[topic] = index + 1
        return ModelOnexEnvelope.from_wire(reader.records[index].value)

    def reply_destination(self, name: str) -> str:
        return f"{self.config.command_topic}.{name}"

    async def close(self) -> None:
        await self.bus.stop(timeout_seconds=10)
        for reader in self._readers.values():
            await reader.__aexit__(None, None, None)


class TestKafkaEventBus(EventBusSuite):
    @pytest.fixture
    async def bus_harness(self, kafka_service: KafkaEndpoint) -> AsyncIterator[KafkaHarness]:
        config = bus_config(kafka_service.bootstrap, unique_prefix("suite"))
        await bus_topics(config, extra=[f"{config.command_topic}.private-replies"])
        async with CommandProducer(kafka_service.bootstrap, config.command_topic) as producer:
            harness = KafkaHarness(config, producer)
            yield harness
            await harness.close()


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


async def test_health_is_live_and_ready_only_with_an_assignment(kafka_service: KafkaEndpoint) -> None:
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
    finally:
        await bus.stop(timeout_seconds=10)
        await runtime.shutdown()
    assert bus.health().ready is False
