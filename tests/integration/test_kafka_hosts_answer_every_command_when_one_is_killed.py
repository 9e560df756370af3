"""Three ``onex-host run`` processes share one consumer group; one is SIGKILLed mid-stream.

Black box: a plain aiokafka producer and readers on one side, the hosts as
subprocesses on the other. Run in both delivery modes with the same load:

* ``at_least_once``: every command gets at least one reply; the duplicates
  (the killed host's unfinished, uncommitted work replayed by the survivors)
  are counted and reported.
* ``exactly_once``: a ``read_committed`` reader sees every command answered
  exactly once; a ``read_uncommitted`` reader's surplus (replies of the killed
  host's aborted transactions) is reported beside it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from onex_host.infra.bus.base import Delivery
from tests.support.builders.factories import command
from tests.support.builders.host_process import HostProcess
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, reading, unique_prefix
from tests.support.builders.kafka_host_contract import write_kafka_host
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

COMMANDS = 3000
PARTITIONS = 6


@pytest.mark.parametrize("delivery", ["at_least_once", "exactly_once"])
async def test_three_hosts_answer_all_3000_commands_although_one_is_killed(
    kafka_service: KafkaEndpoint, tmp_path: Path, delivery: Delivery
) -> None:
    bootstrap = kafka_service.bootstrap
    config = bus_config(
        bootstrap, unique_prefix("three"), session_timeout_ms=6_000, heartbeat_interval_ms=500, delivery=delivery
    )
    await bus_topics(config, partitions=PARTITIONS)
    contract = write_kafka_host(tmp_path, config, max_concurrent=50)
    hosts = [HostProcess(contract, tmp_path) for _ in range(3)]
    requests = [command(operation="sleep", payload={"seconds": 0.002, "echo": {"i": i}}) for i in range(COMMANDS)]
    wanted = {r.correlation_id for r in requests}
    try:
        await asyncio.gather(*(asyncio.to_thread(host.wait_ready, 60) for host in hosts))
        async with (
            reading(bootstrap, config.reply_topic, "read_committed") as committed,
            reading(bootstrap, config.reply_topic) as uncommitted,
            reading(bootstrap, config.effective_dead_letter_topic, "read_committed") as dead_letters,
        ):
            async with CommandProducer(bootstrap, config.command_topic) as producer:
                started = time.monotonic()
                await producer.send_many(requests)
            async with asyncio.timeout(60):
                while len(committed.records) < COMMANDS // 3:
                    await asyncio.sleep(0.01)
            answered_at_kill = len(committed.records)
            hosts[0].kill()  # SIGKILL: no drain, no commit, no leaving the group
            await committed.wait_for_correlations(wanted, timeout=90)
            elapsed = time.monotonic() - started
            await asyncio.sleep(2)  # late duplicates, if any, arrive now
            counts = committed.correlation_counts()
            surplus = len(uncommitted.records) - COMMANDS

        duplicates = sum(n - 1 for n in counts.values())
        print(
            f"\n{delivery}: three hosts, one SIGKILLed after {answered_at_kill} replies: {COMMANDS} commands "
            f"answered in {elapsed:.1f}s; read_committed reader: {duplicates} duplicate replies; "
            f"read_uncommitted reader: {surplus} replies beyond one per command"
        )
        assert answered_at_kill < COMMANDS, "the host was killed after everything was answered: nothing was tested"
        assert set(counts) == wanted
        assert not dead_letters.records, "an echo command was dead-lettered"
        if delivery == "exactly_once":
            assert duplicates == 0, f"{duplicates} commands answered twice to a read_committed reader"
        for survivor in hosts[1:]:
            assert survivor.terminate(timeout=40) == 0, survivor.logs()[-3000:]
    finally:
        for host in hosts:
            host.__exit__(None, None, None)
