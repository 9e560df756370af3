from __future__ import annotations

import asyncio
import time

import pytest

from onex_host.infra.bus.kafka.dispatcher import KeyedDispatcher, Ownership


class Recorder:
    """A process function that records start/end order and can be held open."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.started: list[str] = []
        self.finished: list[str] = []
        self.running = 0
        self.peak = 0

    async def __call__(self, item: str, ownership: Ownership) -> bool:
        self.started.append(item)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            self.running -= 1
        self.finished.append(item)
        return True


async def test_same_key_runs_in_offset_order_one_at_a_time() -> None:
    recorder = Recorder(seconds=0.01)
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(10, recorder)
    dispatcher.assign(0)
    for offset in range(5):
        dispatcher.submit(0, b"same", offset, f"m{offset}")
    assert await dispatcher.drain(5)
    assert recorder.finished == ["m0", "m1", "m2", "m3", "m4"]
    assert recorder.peak == 1
    assert dispatcher.tracker.pending_commits() == {0: 5}


async def test_different_keys_and_unkeyed_records_run_concurrently() -> None:
    recorder = Recorder(seconds=0.05)
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(10, recorder)
    dispatcher.assign(0)
    dispatcher.assign(1)
    dispatcher.submit(0, b"a", 0, "a")
    dispatcher.submit(0, b"b", 1, "b")
    dispatcher.submit(1, None, 0, "n0")
    dispatcher.submit(1, None, 1, "n1")
    started = time.monotonic()
    assert await dispatcher.drain(5)
    assert recorder.peak == 4
    assert time.monotonic() - started < 0.15


async def test_the_bound_counts_queued_records_and_refuses_more() -> None:
    recorder = Recorder(seconds=0.05)
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(3, recorder)
    dispatcher.assign(0)
    for offset in range(3):
        dispatcher.submit(0, b"k", offset, str(offset))
    assert dispatcher.free_slots == 0
    with pytest.raises(RuntimeError, match="full"):
        dispatcher.submit(0, b"k", 3, "3")
    assert not await dispatcher.wait_for_free_slot(0.01)
    assert await dispatcher.wait_for_free_slot(1)
    assert dispatcher.free_slots == 1
    assert await dispatcher.drain(5)
    assert dispatcher.accepted == 0
    assert recorder.peak == 1  # one key: the bound holds queued records, not running ones


async def test_unowned_partitions_accept_nothing() -> None:
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(3, Recorder())
    with pytest.raises(ValueError, match="not owned"):
        dispatcher.submit(9, None, 0, "x")
    dispatcher.assign(9)
    with pytest.raises(ValueError, match="already assigned"):
        dispatcher.assign(9)


async def test_revoke_lets_running_work_finish_within_grace_and_never_starts_queued_work() -> None:
    recorder = Recorder(seconds=0.1)
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(10, recorder)
    dispatcher.assign(0)
    dispatcher.submit(0, b"k", 0, "first")
    dispatcher.submit(0, b"k", 1, "queued")
    await asyncio.sleep(0.01)
    await dispatcher.revoke([0], grace_seconds=2)
    assert recorder.finished == ["first"]
    assert "queued" not in recorder.started
    assert dispatcher.accepted == 0
    assert dispatcher.tracker.pending_commits() == {0: 1}  # only finished work is committed
    with pytest.raises(ValueError, match="not owned"):
        dispatcher.submit(0, b"k", 2, "late")
    dispatcher.release([0])
    assert dispatcher.partitions == []


async def test_revoke_cancels_work_that_outlives_the_grace_period() -> None:
    recorder = Recorder(seconds=10)
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(10, recorder)
    dispatcher.assign(0)
    dispatcher.submit(0, b"k", 0, "slow")
    await asyncio.sleep(0.01)
    started = time.monotonic()
    await dispatcher.revoke([0], grace_seconds=0.05)
    assert time.monotonic() - started < 1
    assert recorder.finished == []
    assert dispatcher.accepted == 0
    assert dispatcher.tracker.pending_commits() == {}


async def test_a_retry_delay_ends_as_soon_as_ownership_is_lost() -> None:
    outcome: list[bool] = []

    async def retrying(item: str, ownership: Ownership) -> bool:
        kept = await ownership.sleep(30)
        outcome.append(kept)
        return kept

    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(10, retrying)
    dispatcher.assign(0)
    dispatcher.submit(0, b"k", 0, "retrying")
    await asyncio.sleep(0.01)
    started = time.monotonic()
    await dispatcher.revoke([0], grace_seconds=30)
    assert time.monotonic() - started < 1
    assert outcome == [False]
    assert dispatcher.tracker.pending_commits() == {}  # abandoned, so the next owner runs it


async def test_other_partitions_keep_running_while_one_is_revoked() -> None:
    recorder = Recorder(seconds=0.05)
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(10, recorder)
    dispatcher.assign(0)
    dispatcher.assign(1)
    dispatcher.submit(0, b"k", 0, "p0")
    dispatcher.submit(1, b"k", 0, "p1")
    await dispatcher.revoke([0], grace_seconds=0)
    assert await dispatcher.drain(5)
    assert recorder.finished == ["p1"]
    assert dispatcher.unfinished_by_partition() == {0: 1, 1: 0}


async def test_a_raising_process_is_reported_and_never_marks_its_record_finished(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Finishing a record whose processing raised would commit past it with neither reply nor dead letter.
    async def broken(item: str, ownership: Ownership) -> bool:
        if item == "bad":
            raise RuntimeError("bug")
        return True

    bugs: list[tuple[str, BaseException]] = []
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(10, broken)
    dispatcher.on_bug = lambda where, exc: bugs.append((where, exc))
    dispatcher.assign(0)
    dispatcher.submit(0, b"k", 0, "bad")
    dispatcher.submit(0, b"k", 1, "good")
    assert await dispatcher.drain(5)
    assert dispatcher.tracker.pending_commits() == {}
    assert dispatcher.accepted == 0
    assert [type(exc) for _where, exc in bugs] == [RuntimeError]
    assert "processing a record raised" in caplog.text


async def test_drain_times_out_by_cancelling_what_is_left() -> None:
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(10, Recorder(seconds=10))
    dispatcher.assign(0)
    dispatcher.submit(0, None, 0, "slow")
    assert not await dispatcher.drain(0.05)
    assert dispatcher.accepted == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        KeyedDispatcher(0, Recorder())


async def test_a_key_whose_lane_just_emptied_starts_a_new_lane() -> None:
    recorder = Recorder()
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(10, recorder)
    dispatcher.assign(0)
    dispatcher.submit(0, b"k", 0, "one")
    for _ in range(3):  # let the lane finish its only record, but not necessarily its done callbacks
        await asyncio.sleep(0)
    dispatcher.submit(0, b"k", 1, "two")
    assert await dispatcher.drain(2)
    assert recorder.finished == ["one", "two"]
    assert dispatcher.tracker.pending_commits() == {0: 2}
