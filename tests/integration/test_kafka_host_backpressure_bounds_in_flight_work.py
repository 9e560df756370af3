"""With ``max_concurrent_operations: 4`` and a slow handler, in-flight work never exceeds 4.

Read from the host's /metrics while a backlog waits in Kafka: the bus pauses
fetching instead of buffering, so the backlog stays in the topic.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.builders.factories import command
from tests.support.builders.host_process import HostProcess
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, reading, unique_prefix
from tests.support.builders.kafka_host_contract import write_kafka_host
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

BOUND = 4
COMMANDS = 40


async def test_in_flight_envelopes_never_exceed_max_concurrent_operations(
    kafka_service: KafkaEndpoint, tmp_path: Path
) -> None:
    bootstrap = kafka_service.bootstrap
    config = bus_config(bootstrap, unique_prefix("backpressure"))
    await bus_topics(config, partitions=3)
    contract = write_kafka_host(tmp_path, config, max_concurrent=BOUND)
    requests = [command(operation="sleep", payload={"seconds": 0.2, "echo": {"i": i}}) for i in range(COMMANDS)]
    samples: list[float] = []
    with HostProcess(contract, tmp_path) as host:
        await asyncio.to_thread(host.wait_ready, 60)
        async with reading(bootstrap, config.reply_topic) as replies:
            async with CommandProducer(bootstrap, config.command_topic) as producer:
                await producer.send_many(requests)
            async with asyncio.timeout(60):
                while len(set(replies.correlation_counts())) < COMMANDS:
                    samples.append(await asyncio.to_thread(host.inflight))
                    await asyncio.sleep(0.02)
        assert host.terminate() == 0

    print(f"\nbackpressure: {len(samples)} samples of onex_inflight_envelopes, peak {max(samples):g}")
    assert max(samples) <= BOUND
    assert max(samples) == BOUND  # the bound was actually reached: the test measured saturation
