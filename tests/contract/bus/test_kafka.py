"""The Kafka bus passes the event-bus suite against a real broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.base import BusMode
from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.metrics import HostMetrics
from tests.contract.bus.base import EventBusSuite
from tests.support.builders.kafka_bus import CommandProducer, TopicReader, bus_config, bus_topics, unique_prefix
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = pytest.mark.kafka

MAX_CONCURRENT = 8  # above the 5 envelopes the suite's drain test sends: stop drains what was accepted
PRIVATE = "private-replies"


class KafkaHarness:
    def __init__(self, config: KafkaBusConfig, producer: CommandProducer) -> None:
        self.config = config
        self.bus = KafkaEventBus(config, max_concurrent=MAX_CONCURRENT, metrics=HostMetrics(mode=config.mode))
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


async def kafka_harness(kafka: KafkaEndpoint, mode: BusMode) -> AsyncIterator[KafkaHarness]:
    prefix = unique_prefix("suite")
    # reply_to is honoured only for topics the contract allows: the suite's private destination is one.
    config = bus_config(kafka.bootstrap, prefix, mode=mode, allowed_reply_topics=[f"{prefix}.cmd.{PRIVATE}"])
    await bus_topics(config, extra=[f"{config.command_topic}.{PRIVATE}"])
    async with CommandProducer(kafka.bootstrap, config.command_topic) as producer:
        harness = KafkaHarness(config, producer)
        yield harness
        await harness.close()


class TestKafkaEventBus(EventBusSuite):
    @pytest.fixture
    async def bus_harness(self, kafka_service: KafkaEndpoint) -> AsyncIterator[KafkaHarness]:
        async for harness in kafka_harness(kafka_service, "primary"):
            yield harness

    @pytest.fixture
    async def shadow_bus_harness(self, kafka_service: KafkaEndpoint) -> AsyncIterator[KafkaHarness]:
        async for harness in kafka_harness(kafka_service, "shadow"):
            yield harness
