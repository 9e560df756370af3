"""A host joining mid-stream triggers a rebalance; completed work is committed before release, never redone."""

from __future__ import annotations

import asyncio
from collections import Counter
from uuid import UUID

import pytest

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.metrics import HostMetrics
from onex_host.runtime.node_runtime import NodeRuntime
from tests.support.builders.factories import command, echo_runtime
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, reading, unique_prefix
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = pytest.mark.kafka

COMMANDS = 240


class RunLog:
    def __init__(self, runtime: NodeRuntime) -> None:
        self.runtime = runtime
        self.runs: Counter[UUID] = Counter()
        self.by_host: Counter[str] = Counter()

    def callback(self, host: str):  # type: ignore[no-untyped-def]
        async def run(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
            self.runs[envelope.correlation_id] += 1
            self.by_host[host] += 1
            return await self.runtime.route_envelope(envelope)

        return run


async def test_rebalance_mid_stream_answers_everything_and_reruns_nothing(kafka_service: KafkaEndpoint) -> None:
    bootstrap = kafka_service.bootstrap
    config = bus_config(bootstrap, unique_prefix("rebalance"), revoke_drain_timeout_seconds=10)
    await bus_topics(config, partitions=6)
    runtime = await echo_runtime("echo")
    log = RunLog(runtime)
    first = KafkaEventBus(config, max_concurrent=8, metrics=HostMetrics())
    second = KafkaEventBus(config, max_concurrent=8, metrics=HostMetrics())
    requests = [command(operation="sleep", payload={"seconds": 0.02, "echo": {"i": i}}) for i in range(COMMANDS)]
    try:
        await first.start(log.callback("first"))
        async with (
            reading(bootstrap, config.reply_topic) as replies,
            CommandProducer(bootstrap, config.command_topic) as producer,
        ):
            await producer.send_many(requests)
            async with asyncio.timeout(30):
                while len(replies.records) < COMMANDS // 4:
                    await asyncio.sleep(0.02)
            # Work is in flight on all six partitions when the second host joins.
            await second.start(log.callback("second"))
            counts = await replies.wait_for_correlations({r.correlation_id for r in requests}, timeout=60)
            await asyncio.sleep(1)  # let any late duplicate show up
            counts = replies.correlation_counts()

        assert set(counts) == {r.correlation_id for r in requests}
        reruns = {cid: n for cid, n in log.runs.items() if n > 1}
        assert reruns == {}, f"{len(reruns)} commands ran more than once across the rebalance"
        assert max(counts.values()) == 1
        assert log.by_host["second"] > 0, "the second host never got a partition"
        assert first.health().details["assigned_partitions"]
        assert second.health().details["assigned_partitions"]
    finally:
        await asyncio.gather(first.stop(timeout_seconds=10), second.stop(timeout_seconds=10))
        await runtime.shutdown()
