from __future__ import annotations

import asyncio
import gc
import time
import weakref

import pytest

from onex_host.infra.bus.kafka.dispatcher import KeyedDispatcher, Ownership, handed_off


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


async def test_lanes_revoked_before_their_task_first_ran_give_back_every_slot() -> None:
    # Their tasks are cancelled before the body's ``finally`` is entered: revoke must close them itself.
    recorder = Recorder()
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(4, recorder)
    dispatcher.assign(0)
    for offset, key in enumerate([b"a", b"a", b"b", None]):
        dispatcher.submit(0, key, offset, f"r{offset}")
    assert dispatcher.free_slots == 0
    await dispatcher.revoke([0], grace_seconds=0)
    assert recorder.started == []
    assert (dispatcher.accepted, dispatcher.free_slots) == (0, 4)
    assert dispatcher.unfinished_by_partition() == {0: 4}
    assert await dispatcher.drain(1)


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


class Acks:
    """A process function that hands its record to a 'producer' and waits for that record's acknowledgement."""

    def __init__(self) -> None:
        self.pending: dict[str, asyncio.Future[bool]] = {}
        self.started: list[str] = []
        self.handoffs: dict[str, int] = {}

    async def __call__(self, item: str, ownership: Ownership) -> bool:
        self.started.append(item)
        while True:
            handed_off()
            self.handoffs[item] = self.handoffs.get(item, 0) + 1
            self.pending[item] = asyncio.get_running_loop().create_future()
            if await self.pending[item]:
                return True
            # The send failed after the handoff: produced again, as the sender retries (no slot held meanwhile).

    def ack(self, item: str, delivered: bool = True) -> None:
        self.pending.pop(item).set_result(delivered)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_handed_off_record_frees_its_slot_but_not_its_offset_until_acknowledged() -> None:
    acks = Acks()
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(2, acks, max_unacknowledged=10)
    dispatcher.assign(0)
    dispatcher.submit(0, b"a", 0, "a0")
    dispatcher.submit(0, b"b", 1, "b1")
    await settle()
    assert (dispatcher.accepted, dispatcher.unacknowledged, dispatcher.free_slots) == (0, 2, 2)
    assert dispatcher.tracker.pending_commits() == {}  # nothing acknowledged: nothing committable
    acks.ack("b1")
    await settle()
    assert dispatcher.tracker.pending_commits() == {}  # offset 0 still unacknowledged: never skipped
    acks.ack("a0")
    assert await dispatcher.drain(2)
    assert dispatcher.tracker.pending_commits() == {0: 2}


async def test_drain_waits_for_the_acknowledgement_of_handed_off_records() -> None:
    acks = Acks()
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(2, acks)
    dispatcher.assign(0)
    dispatcher.submit(0, None, 0, "x")
    await settle()
    assert dispatcher.accepted == 0
    draining = asyncio.create_task(dispatcher.drain(5))
    await settle()
    assert not draining.done()
    acks.ack("x")
    assert await draining
    assert dispatcher.tracker.pending_commits() == {0: 1}


async def test_a_keys_next_record_waits_for_the_acknowledgement_though_the_slot_was_freed() -> None:
    acks = Acks()
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(4, acks)
    dispatcher.assign(0)
    dispatcher.submit(0, b"k", 0, "first")
    dispatcher.submit(0, b"k", 1, "queued")
    await settle()
    later = "later"
    assert acks.started == ["first"]
    dispatcher.submit(0, b"k", 2, later)  # arrives after the handoff, lane still held
    await settle()
    assert acks.started == ["first"]
    acks.ack("first")
    await settle()
    assert acks.started == ["first", "queued"]
    acks.ack("queued")
    await settle()
    acks.ack(later)
    assert await dispatcher.drain(2)
    assert acks.started == ["first", "queued", later]
    assert dispatcher.tracker.pending_commits() == {0: 3}


async def test_a_send_failing_after_the_handoff_is_retried_without_taking_a_second_slot() -> None:
    acks = Acks()
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(1, acks, max_unacknowledged=1)
    dispatcher.assign(0)
    dispatcher.submit(0, b"k", 0, "x")
    await settle()
    acks.ack("x", delivered=False)
    await settle()
    assert acks.handoffs["x"] == 2
    assert (dispatcher.accepted, dispatcher.unacknowledged) == (0, 1)
    assert dispatcher.tracker.pending_commits() == {}
    acks.ack("x")
    assert await dispatcher.drain(2)
    assert (dispatcher.accepted, dispatcher.unacknowledged, dispatcher.free_slots) == (0, 0, 1)
    assert dispatcher.tracker.pending_commits() == {0: 1}


async def test_unacknowledged_records_are_bounded_on_their_own() -> None:
    acks = Acks()
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(2, acks, max_unacknowledged=3)
    dispatcher.assign(0)
    offset = 0
    while dispatcher.free_slots > 0:
        dispatcher.submit(0, None, offset, f"m{offset}")
        offset += 1
        await settle()
    assert (dispatcher.accepted, dispatcher.unacknowledged) == (0, 5)  # capacity + max_unacknowledged
    with pytest.raises(RuntimeError, match="full"):
        dispatcher.submit(0, None, offset, "over")
    acks.ack("m0")
    await settle()
    assert dispatcher.free_slots == 1


async def test_a_revoke_during_an_unacknowledged_reply_commits_it_only_if_acknowledged_within_grace() -> None:
    acks = Acks()
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(4, acks)
    dispatcher.assign(0)
    dispatcher.assign(1)
    dispatcher.submit(0, b"k", 0, "acked-in-grace")
    dispatcher.submit(0, b"k", 1, "queued")
    dispatcher.submit(1, b"k", 0, "never-acked")
    await settle()
    revoking = asyncio.create_task(dispatcher.revoke([0], grace_seconds=5))
    await settle()
    acks.ack("acked-in-grace")
    await revoking
    assert "queued" not in acks.started  # ownership lost: the queued record never starts
    await dispatcher.revoke([1], grace_seconds=0)
    assert dispatcher.tracker.pending_commits() == {0: 1}  # partition 1's unacknowledged reply is replayed
    assert (dispatcher.accepted, dispatcher.unacknowledged) == (0, 0)


def test_handed_off_outside_a_lane_does_nothing() -> None:
    handed_off()


async def test_a_finished_lane_leaves_no_reference_cycle_for_the_collector() -> None:
    """Every record's lane, task and context go with their reference count: a cycle among them cost the
    host a quarter of its time per command in collector passes (``onex_host.infra.heap``)."""
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(10, Recorder())
    dispatcher.assign(0)
    gc.disable()
    try:
        dispatcher.submit(0, b"k", 0, "m0")
        lane = weakref.ref(dispatcher._partitions[0].lanes[b"k"])
        task = weakref.ref(dispatcher._partitions[0].lanes[b"k"].task)  # type: ignore[arg-type]
        assert await dispatcher.drain(5)
        for _ in range(3):
            await asyncio.sleep(0)  # the task's done callbacks
        assert (lane(), task()) == (None, None)
    finally:
        gc.enable()


class Gated:
    """Each record runs until its own gate opens."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}

    async def __call__(self, item: str, ownership: Ownership) -> bool:
        await self.gates.setdefault(item, asyncio.Event()).wait()
        return True

    def open(self, item: str) -> None:
        self.gates.setdefault(item, asyncio.Event()).set()


def saturated() -> tuple[Gated, KeyedDispatcher[int, str]]:
    """Eight slots, eight unkeyed records each held by its gate."""
    gated = Gated()
    dispatcher: KeyedDispatcher[int, str] = KeyedDispatcher(8, gated)
    dispatcher.assign(0)
    for offset in range(8):
        dispatcher.submit(0, None, offset, str(offset))
    return gated, dispatcher


async def test_a_saturated_wait_wakes_for_a_batch_of_free_slots_not_for_each_one() -> None:
    """Woken for every freed slot, the consume loop fetched one record per poll."""
    gated, dispatcher = saturated()
    assert dispatcher.refill == 2
    waiting = asyncio.create_task(dispatcher.wait_for_free_slot(5))
    await settle()
    gated.open("0")
    await settle()
    assert not waiting.done()  # one slot: still waiting for the refill mark (or its short wait)
    gated.open("1")
    await settle()
    assert waiting.done()
    assert waiting.result()
    assert dispatcher.free_slots == 2
    for offset in range(2, 8):
        gated.open(str(offset))
    assert await dispatcher.drain(5)


async def test_records_stuck_in_slow_handlers_do_not_hold_back_the_one_free_slot() -> None:
    gated, dispatcher = saturated()
    waiting = asyncio.create_task(dispatcher.wait_for_free_slot(5))
    await settle()
    gated.open("0")  # the other seven never finish while the loop waits
    async with asyncio.timeout(4):  # far below ``within``: the refill wait gave up and took the one slot
        assert await waiting
    assert dispatcher.free_slots == 1
    for offset in range(1, 8):
        gated.open(str(offset))
    assert await dispatcher.drain(5)
