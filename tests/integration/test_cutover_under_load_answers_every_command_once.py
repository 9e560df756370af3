"""Cutover under continuous load (issue 6, test 3): the legacy node stops, its offsets are handed
over, the new host is promoted to primary; every command is answered exactly once by one side or
the other. The longest gap between consecutive replies is printed as the measured downtime
(reported, not asserted: it depends on the machine)."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord

from tests.support.builders.factories import command
from tests.support.builders.host_process import HostProcess
from tests.support.builders.kafka_bus import CommandProducer, bus_config, create_topics, reading, unique_prefix
from tests.support.builders.kafka_host_contract import write_kafka_host
from tests.support.builders.onex_cli import onex_host
from tests.support.doubles.legacy_node import ANSWERED_BY, LegacyNode
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

RATE = 200  # commands per second
TICK_S = 0.05
LEGACY_PHASE_S = 3.0
PRIMARY_PHASE_S = 3.0


class SteadyLoad:
    """Sends ``RATE`` commands per second in ticks until stopped; remembers every correlation id."""

    def __init__(self, producer: CommandProducer) -> None:
        self.producer = producer
        self.sent: list[uuid.UUID] = []
        self.stop = asyncio.Event()

    async def run(self) -> None:
        per_tick = round(RATE * TICK_S)
        started = time.monotonic()
        tick = 0
        while not self.stop.is_set():
            batch = [command(payload={"n": len(self.sent) + i}) for i in range(per_tick)]
            await self.producer.send_many(batch)
            self.sent.extend(c.correlation_id for c in batch)
            tick += 1
            await asyncio.sleep(max(0.0, started + tick * TICK_S - time.monotonic()))


def _answered_by(record: ConsumerRecord) -> str:
    headers: dict[str, bytes] = dict(record.headers or ())
    return headers.get(ANSWERED_BY, b"new-host").decode()


def _longest_gap_s(records: list[ConsumerRecord]) -> float:
    stamps = sorted(r.timestamp for r in records)
    return max((b - a for a, b in itertools.pairwise(stamps)), default=0) / 1000


async def test_cutover_under_load_answers_every_command_exactly_once(
    kafka_service: KafkaEndpoint, tmp_path: Path
) -> None:
    bootstrap = kafka_service.bootstrap
    primary = bus_config(bootstrap, unique_prefix("cutover"))
    shadow = primary.model_copy(update={"mode": "shadow"})
    await create_topics(
        bootstrap,
        [
            primary.command_topic,
            primary.response_topic,
            primary.effective_dead_letter_topic,
            shadow.reply_topic,
            shadow.effective_dead_letter_topic,
        ],
    )
    legacy = LegacyNode(
        bootstrap,
        group=f"{primary.consumer_group}.legacy",
        command_topic=primary.command_topic,
        response_topic=primary.response_topic,
    )
    await legacy.start()
    await legacy.wait_assigned()
    shadow_host = HostProcess(write_kafka_host(tmp_path, primary, mode="shadow"), tmp_path)
    try:
        await asyncio.to_thread(shadow_host.wait_ready, 60)
        async with (
            reading(bootstrap, primary.response_topic) as replies,
            CommandProducer(bootstrap, primary.command_topic) as producer,
        ):
            load = SteadyLoad(producer)
            load_task = asyncio.create_task(load.run())
            await asyncio.sleep(LEGACY_PHASE_S)

            # -- the runbook's cutover, while commands keep arriving ----------------------------
            cutover_started = time.monotonic()
            await legacy.stop()  # pause legacy: answer and commit what it fetched, leave the group
            assert await asyncio.to_thread(shadow_host.terminate) == 0  # the shadow deployment goes away
            handover = await onex_host(
                "offsets", "handover", "--bootstrap-servers", bootstrap, "--from-group", legacy.group,
                "--to-group", primary.consumer_group, "--topic", primary.command_topic,
            )  # fmt: skip
            assert handover.exit_code == 0, handover.stderr
            print(f"\n{handover.stdout}")
            with HostProcess(write_kafka_host(tmp_path, primary, mode="primary"), tmp_path) as new_primary:
                promoted_after = await asyncio.to_thread(new_primary.wait_ready, 60)
                print(f"cutover: new primary ready {time.monotonic() - cutover_started:.2f}s after legacy stopped "
                      f"(host start {promoted_after:.2f}s)")  # fmt: skip
                await asyncio.sleep(PRIMARY_PHASE_S)
                load.stop.set()
                await load_task
                sent = set(load.sent)
                await replies.wait_for_correlations(sent, timeout=60)
                await asyncio.sleep(1.0)  # time for a late duplicate to show up
                counts = replies.correlation_counts()
                records = list(replies.records)
                assert new_primary.terminate() == 0
    finally:
        shadow_host.kill()
        await legacy.kill()

    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    unexpected = set(counts) - sent
    by_side: dict[str, int] = {}
    for record in records:
        by_side[_answered_by(record)] = by_side.get(_answered_by(record), 0) + 1
    downtime = _longest_gap_s(records)
    print(
        f"cutover at {RATE} commands/s: {len(sent)} commands, {len(records)} replies "
        f"({by_side}), duplicates {duplicates}, measured downtime (longest gap between replies) {downtime:.2f}s"
    )
    assert not unexpected
    assert set(counts) == sent  # nothing lost
    assert duplicates == 0  # a clean handover replays nothing
    assert by_side.get("legacy", 0) > 0
    assert by_side.get("new-host", 0) > 0
