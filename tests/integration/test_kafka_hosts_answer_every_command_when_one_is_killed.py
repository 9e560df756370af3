"""Three ``onex-host run`` processes share one consumer group; one is SIGKILLed mid-stream.

Black box: a plain aiokafka producer and reader on one side, the hosts as
subprocesses on the other. Every command must get at least one reply; the
duplicates (the killed host's unfinished, uncommitted work replayed by the
survivors) are counted and reported.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.support.builders.factories import command
from tests.support.builders.host_process import HostProcess
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, reading, unique_prefix
from tests.support.builders.kafka_host_contract import write_kafka_host
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

COMMANDS = 3000
PARTITIONS = 6


async def test_three_hosts_answer_all_3000_commands_although_one_is_killed(
    kafka_service: KafkaEndpoint, tmp_path: Path
) -> None:
    bootstrap = kafka_service.bootstrap
    config = bus_config(bootstrap, unique_prefix("three"), session_timeout_ms=6_000, heartbeat_interval_ms=500)
    await bus_topics(config, partitions=PARTITIONS)
    contract = write_kafka_host(tmp_path, config, max_concurrent=50)
    hosts = [HostProcess(contract, tmp_path) for _ in range(3)]
    requests = [command(operation="sleep", payload={"seconds": 0.002, "echo": {"i": i}}) for i in range(COMMANDS)]
    try:
        await asyncio.gather(*(asyncio.to_thread(host.wait_ready, 60) for host in hosts))
        async with reading(bootstrap, config.reply_topic) as replies:
            async with CommandProducer(bootstrap, config.command_topic) as producer:
                started = time.monotonic()
                await producer.send_many(requests)
            async with asyncio.timeout(60):
                while len(replies.records) < COMMANDS // 3:
                    await asyncio.sleep(0.01)
            answered_at_kill = len(replies.records)
            hosts[0].kill()  # SIGKILL: no drain, no commit, no leaving the group
            counts = await replies.wait_for_correlations({r.correlation_id for r in requests}, timeout=90)
            elapsed = time.monotonic() - started
            await asyncio.sleep(1)
            counts = replies.correlation_counts()

        duplicates = sum(n - 1 for n in counts.values())
        print(
            f"\nthree hosts, one SIGKILLed after {answered_at_kill} replies: {COMMANDS} commands answered in "
            f"{elapsed:.1f}s, {duplicates} duplicate replies ({len(replies.records)} replies in total)"
        )
        assert answered_at_kill < COMMANDS, "the host was killed after everything was answered: nothing was tested"
        assert set(counts) == {r.correlation_id for r in requests}
        for survivor in hosts[1:]:
            assert survivor.terminate(timeout=40) == 0, survivor.logs()[-3000:]
    finally:
        for host in hosts:
            host.__exit__(None, None, None)
