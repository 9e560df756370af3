from __future__ import annotations

import asyncio
import time

from aiokafka import ConsumerRecord

from onex_host.infra.kafka_tools.shadow.comparator import Outcome, ReplyComparator
from onex_host.infra.kafka_tools.shadow.ignore import IgnoreRules
from onex_host.infra.kafka_tools.shadow.observed import Side
from onex_host.infra.kafka_tools.shadow.session import StopWhen, run_comparison
from tests.support.builders.factories import command


def _record(value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("t", 0, 0, 0, 0, None, value, None, 0, len(value), ())


class ScriptedSource:
    """Hands out prepared batches, then nothing: the ``RecordSource`` seam without Kafka."""

    def __init__(self, batches: list[list[tuple[Side, ConsumerRecord[bytes, bytes]]]]) -> None:
        self.batches = batches
        self.reads = 0
        self.snapshot_epoch = time.time()

    async def caught_up(self) -> bool:
        return not self.batches

    async def read(self, timeout_ms: int) -> list[tuple[Side, ConsumerRecord[bytes, bytes]]]:
        self.reads += 1
        if self.batches:
            await asyncio.sleep(0.005)
            return self.batches.pop(0)
        await asyncio.sleep(timeout_ms / 1000)
        return []


async def test_a_bounded_run_stops_after_max_replies_and_counts_junk() -> None:
    replies = [command(payload={"i": i}).reply_success({"i": i}) for i in range(3)]
    source = ScriptedSource(
        [
            [(Side.LEGACY, _record(r.to_wire())) for r in replies] + [(Side.SHADOW, _record(b"junk"))],
            [(Side.SHADOW, _record(r.to_wire())) for r in replies],
            [(Side.SHADOW, _record(b"never read"))],
        ]
    )
    comparator = ReplyComparator(IgnoreRules.from_patterns([]), 5.0)
    report = await run_comparison(source, comparator, StopWhen(max_replies=3))
    assert report.counts[Outcome.MATCH] == 3
    assert report.undecodable == {Side.LEGACY: 0, Side.SHADOW: 1}
    assert source.reads == 2


async def test_a_run_ends_when_stop_is_set_or_the_duration_passes() -> None:
    stop = asyncio.Event()
    stop.set()
    comparator = ReplyComparator(IgnoreRules.from_patterns([]), 5.0)
    source = ScriptedSource([])
    await run_comparison(source, comparator, StopWhen(), stop=stop)
    assert source.reads == 0
    await run_comparison(source, comparator, StopWhen(duration_seconds=0.01))
    assert source.reads == 1


def test_stop_when_takes_the_first_limit() -> None:
    assert StopWhen(duration_seconds=5, max_replies=10).reached(elapsed=5, judged=0)
    assert StopWhen(duration_seconds=5, max_replies=10).reached(elapsed=1, judged=10)
    assert not StopWhen().reached(elapsed=1e9, judged=10**9)


async def test_a_caught_up_run_judges_old_unpaired_replies_as_missing_and_stops() -> None:
    old = command().reply_success({})
    old = old.model_copy(update={"timestamp": old.timestamp.replace(year=old.timestamp.year - 1)})
    fresh = command().reply_success({})
    source = ScriptedSource([[(Side.LEGACY, _record(old.to_wire())), (Side.LEGACY, _record(fresh.to_wire()))]])
    comparator = ReplyComparator(IgnoreRules.from_patterns([]), 5.0)
    report = await run_comparison(source, comparator, StopWhen(caught_up=True))
    assert report.counts[Outcome.MISSING_IN_SHADOW] == 1
    assert report.missing[Outcome.MISSING_IN_SHADOW] == (str(old.correlation_id),)
    assert report.pending == 1  # stamped within the last window: its partner may still be on its way
    assert source.reads == 1


async def test_while_a_backlog_is_read_a_slow_side_is_not_judged_missing() -> None:
    reply = command().reply_success({})
    source = ScriptedSource(
        [[(Side.LEGACY, _record(reply.to_wire()))], [], [], [(Side.SHADOW, _record(reply.to_wire()))]]
    )
    comparator = ReplyComparator(IgnoreRules.from_patterns([]), window_seconds=0.001)
    report = await run_comparison(source, comparator, StopWhen(caught_up=True))
    assert report.counts[Outcome.MATCH] == 1
    assert report.counts[Outcome.MISSING_IN_SHADOW] == 0
