"""`auto_offset_reset: none`, the production contract's choice, on a real broker: a new group replays nothing.

The command topic already holds what the legacy consumers answered. A host whose
group never committed an offset must not start at the beginning of the topic
(running every retained command's side effects a second time): with ``none`` it
consumes nothing until ``onex-host offsets handover`` commits where the legacy
group stopped, and then starts exactly there. This is the order of
docs/migration.md, steps 3 to 5.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.file_registry import load_host
from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.metrics import HostMetrics
from tests.appliance.tooling import REPOSITORY, explain, run_tool, venv_tool
from tests.support.builders.factories import command, echo_runtime
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, reading, unique_prefix
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = [pytest.mark.appliance, pytest.mark.kafka]

PRODUCTION_CONTRACT = REPOSITORY / "contracts" / "runtime" / "infra_runtime_host.yaml"


def test_the_production_contract_chooses_none_unless_the_runner_says_otherwise() -> None:
    environment = {
        "POSTGRES_HOST": "db",
        "POSTGRES_DB": "onex",
        "POSTGRES_USER": "onex",
        "POSTGRES_PASSWORD": "x",
        "VAULT_ADDR": "http://vault:8200",
        "VAULT_TOKEN": "x",
        "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
    }
    for given, expected in ((None, "none"), ("latest", "latest"), ("earliest", "earliest")):
        env = environment if given is None else {**environment, "ONEX_AUTO_OFFSET_RESET": given}
        bus = KafkaBusConfig.model_validate(load_host(PRODUCTION_CONTRACT, env).contract.event_bus.config)
        assert bus.auto_offset_reset == expected


async def _legacy_commits(bootstrap: str, group: str, topic: str, offset: int) -> None:
    """The legacy consumers' group, stopped after answering the records before ``offset``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(offset, "legacy")})
    finally:
        await consumer.stop()


async def _answered(
    bootstrap: str, config: KafkaBusConfig, sent: Sequence[ModelOnexEnvelope], seconds: float
) -> set[str]:
    """Run a host on the group for a while; the correlation ids of what it answered."""
    runtime = await echo_runtime("alpha")
    bus = KafkaEventBus(config, max_concurrent=8, metrics=HostMetrics())
    async with reading(bootstrap, config.reply_topic) as replies:
        await bus.start(runtime.route_envelope)
        try:
            await asyncio.sleep(seconds)
        finally:
            await bus.stop(timeout_seconds=10)
        await asyncio.sleep(0.5)
        wanted = {str(envelope.correlation_id) for envelope in sent}
        return {str(reply.correlation_id) for reply in replies.envelopes()} & wanted


async def test_a_new_group_with_none_replays_nothing_and_starts_at_the_handed_over_offset(
    request: pytest.FixtureRequest, kafka_service: KafkaEndpoint
) -> None:
    prefix = unique_prefix("reset-none")
    config = bus_config(kafka_service.bootstrap, prefix, auto_offset_reset="none")
    await bus_topics(config, partitions=1)
    history = [command(target="alpha", payload={"i": i}) for i in range(3)]
    async with CommandProducer(kafka_service.bootstrap, config.command_topic) as producer:
        for envelope in history:
            await producer.send(envelope, key=b"one-partition")

    assert await _answered(kafka_service.bootstrap, config, history, seconds=6) == set(), "replayed retained commands"

    legacy_group = f"{prefix}.legacy"
    await _legacy_commits(kafka_service.bootstrap, legacy_group, config.command_topic, offset=2)
    handover = run_tool(
        [
            venv_tool(request.config, "onex-host"),
            "offsets",
            "handover",
            "--bootstrap-servers",
            kafka_service.bootstrap,
            "--from-group",
            legacy_group,
            "--to-group",
            config.consumer_group,
            "--topic",
            config.command_topic,
        ]
    )
    assert handover.returncode == 0, explain(handover)

    answered = await _answered(kafka_service.bootstrap, config, history, seconds=8)
    assert answered == {str(history[2].correlation_id)}, "must start exactly where the legacy group stopped"
