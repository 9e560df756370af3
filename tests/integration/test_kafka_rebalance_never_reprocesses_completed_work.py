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

BATCH = 20
BATCH_INTERVAL_S = 0.05  # 400 commands/s: about what one host runs of 20 ms sleeps at 8 in flight
MAX_COMMANDS = 4_000


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
    requests: list[ModelOnexEnvelope] = []

    async def stream(producer: CommandProducer) -> None:
        """Commands keep coming until the second host has run one of them: the rebalance happens mid-stream
        however long the join takes (a fixed batch could all be done by the first host before it ends)."""
        while log.by_host["second"] == 0 and len(requests) < MAX_COMMANDS:
            batch = [
                command(operation="sleep", payload={"seconds": 0.02, "echo": {"i": len(requests) + i}})
                for i in range(BATCH)
            ]
            requests.extend(batch)
            await producer.send_many(batch)
            await asyncio.sleep(BATCH_INTERVAL_S)

    streaming: asyncio.Task[None] | None = None
    try:
        await first.start(log.callback("first"))
        async with (
            reading(bootstrap, config.reply_topic) as replies,
            CommandProducer(bootstrap, config.command_topic) as producer,
        ):
            streaming = asyncio.create_task(stream(producer))
            async with asyncio.timeout(30):
                while len(replies.records) < 3 * BATCH:
                    await asyncio.sleep(0.02)
            # Work is in flight on all six partitions when the second host joins.
            await second.start(log.callback("second"))
            await asyncio.wait_for(streaming, 60)
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
        if streaming is not None:
            streaming.cancel()
        await asyncio.gather(first.stop(timeout_seconds=10), second.stop(timeout_seconds=10))
        await runtime.shutdown()
