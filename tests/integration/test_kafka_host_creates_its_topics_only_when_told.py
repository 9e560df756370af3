"""Brokers auto-create nothing; a host creates its own topics only when the contract says ``create_missing_topics``."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.bus.kafka.clients import KafkaUnavailableError, create_missing_topics
from onex_host.infra.metrics import HostMetrics
from tests.support.builders.kafka_bus import bus_config, unique_prefix
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = pytest.mark.kafka


async def _topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_told_to_the_host_creates_its_three_topics_once(kafka_service: KafkaEndpoint) -> None:
    config = bus_config(kafka_service.bootstrap, unique_prefix("create"), create_missing_topics=True)
    wanted = {config.command_topic, config.reply_topic, config.effective_dead_letter_topic}

    first = await create_missing_topics(config)
    second = await create_missing_topics(config)

    assert set(first) == wanted
    assert second == []
    assert wanted <= await _topics(kafka_service.bootstrap)


async def test_not_told_the_host_creates_nothing(kafka_service: KafkaEndpoint) -> None:
    config = bus_config(kafka_service.bootstrap, unique_prefix("nocreate"), startup_timeout_seconds=3)
    bus = KafkaEventBus(config, max_concurrent=4, metrics=HostMetrics())

    async def echo(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        return envelope.reply_success(envelope.payload)

    with pytest.raises(KafkaUnavailableError, match="UnknownTopicOrPartition"):
        await bus.start(echo)
    await bus.stop(5)

    assert not {config.command_topic, config.reply_topic} & await _topics(kafka_service.bootstrap)
