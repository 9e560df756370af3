"""Concurrency for consumed envelopes: per-key order, a global bound, revocable ownership.

Ordering guarantee (what producers can rely on): records of the same
partition *and* the same Kafka key are processed one after another, in offset
order, each to completion (retries included) before the next starts. Records
with different keys, or from different partitions, run concurrently. Records
without a key carry no ordering promise and run concurrently with everything.
Key commands by what must stay ordered (an entity id); keying by a random id
buys maximum concurrency.

Bound: at most ``capacity`` records hold an operation slot at any time
(queued behind their key, running, retrying, or producing until the
producer took their reply). A record gives its slot back when its reply (or
dead letter) is handed to the producer (``handed_off``), not when the
broker acknowledges it: waiting for acknowledgements while holding slots
capped throughput at ``capacity`` / round trip. Handed-off records stay
unfinished (their offsets are not committable) until acknowledged, and are
bounded on their own by ``max_unacknowledged``; a send that fails after the
handoff is retried or dead-lettered by the same record's processing, as
before, just without a slot. The consume loop asks ``free_slots`` before
fetching and pauses the consumer when it is zero, so both bounds are
backpressure on Kafka, not a growing buffer.

A key's order survives the early release: its lane stays registered until
its running record is acknowledged, so the key's next record (queued or
arriving later) starts only after that.

Ownership: every partition's work carries an ``Ownership`` token. When the
partition is revoked the token is lost: retry delays end immediately,
queued records never start, running ones get a bounded grace period and are
then cancelled. Nothing that was not finished is marked finished, so the next
owner processes it again (at-least-once), and nothing runs for a partition
this consumer no longer owns once ``revoke`` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from onex_host.infra.bus.kafka.offsets import OffsetTracker, PartitionOffsets

logger = logging.getLogger(__name__)

PartitionT = TypeVar("PartitionT", bound=Hashable)
ItemT = TypeVar("ItemT")


class Ownership:
    """Whether this consumer still owns a partition; long waits are cut short when it stops owning it."""

    __slots__ = ("_lost",)

    def __init__(self) -> None:
        self._lost = asyncio.Event()

    @property
    def owned(self) -> bool:
        return not self._lost.is_set()

    def lose(self) -> None:
        self._lost.set()

    async def sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; ``False`` as soon as ownership is lost (then the caller must give up)."""
        if not self.owned:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._lost.wait(), timeout=max(seconds, 0))
        return self.owned


REFILL_WAIT_SECONDS = 0.005
"""How long a saturated consume loop waits for a batch worth of free slots before it takes any (see
``KeyedDispatcher.wait_for_free_slot``): on the order of a reply's acknowledgement."""

ProcessFn = Callable[[ItemT, Ownership], Awaitable[bool]]
"""Processes one record; ``True`` when done (reply published or dead-lettered), ``False`` when
abandoned because ownership was lost. Must not raise: a raise is a bug, reported to ``on_bug``,
and the record is left unfinished (its offset is never committed past it)."""


@dataclass(eq=False)
class _Lane(Generic[ItemT]):
    queue: deque[tuple[int, ItemT]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    head_holds_slot: bool = True
    """False once the running record (the queue's head) was handed to the producer and gave its slot back."""


_running_lane: ContextVar[tuple[KeyedDispatcher[Any, Any], _Lane[Any]] | None] = ContextVar("onex_running_lane")


def handed_off() -> None:
    """Called by the sender once the producer took the running record's reply or dead letter.

    Gives the record's operation slot back (see the module docstring); outside a
    dispatcher lane, and for a record already handed off, it does nothing.
    """
    running = _running_lane.get(None)
    if running is not None:
        running[0]._hand_off(running[1])


@dataclass(eq=False)
class _PartitionWork(Generic[ItemT]):
    offsets: PartitionOffsets
    ownership: Ownership = field(default_factory=Ownership)
    lanes: dict[Hashable, _Lane[ItemT]] = field(default_factory=dict)

    def tasks(self) -> list[asyncio.Task[None]]:
        return [lane.task for lane in self.lanes.values() if lane.task is not None]


class KeyedDispatcher(Generic[PartitionT, ItemT]):
    """Runs consumed records concurrently under the rules in the module docstring."""

    def __init__(
        self,
        capacity: int,
        process: ProcessFn[ItemT],
        *,
        max_unacknowledged: int | None = None,
        tracker: OffsetTracker[PartitionT] | None = None,
    ) -> None:
        """``max_unacknowledged``: handed-off records awaiting their acknowledgement (default ``4 * capacity``).

        ``tracker``: the offsets this dispatcher finishes, when its owner builds it first (the exactly-once
        outbox reads the same one); by default a new one.
        """
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.max_unacknowledged = max_unacknowledged if max_unacknowledged is not None else 4 * capacity
        if self.max_unacknowledged < 0:
            raise ValueError("max_unacknowledged must not be negative")
        self._unacknowledged = 0
        self.tracker: OffsetTracker[PartitionT] = tracker if tracker is not None else OffsetTracker()
        self._process = process
        self._partitions: dict[PartitionT, _PartitionWork[ItemT]] = {}
        self._accepted = 0
        self._slot_freed = asyncio.Event()
        """Set when ``free_slots`` reaches ``_wake_at``: what the waiting consume loop waits for."""
        self._wake_at = 1
        self.refill = max(1, capacity // 4)
        """Free slots a saturated consume loop waits for (up to ``REFILL_WAIT_SECONDS``) before it fetches."""
        self._idle = asyncio.Event()
        self._idle.set()
        self.on_finished: Callable[[PartitionT], None] | None = None
        """Told after a record's offset was finished (the exactly-once committer may have a longer prefix)."""
        self.on_bug: Callable[[str, BaseException], None] | None = None
        """Told when processing raised; the Kafka bus restarts its loop, which replays the record."""

    # -- capacity ----------------------------------------------------------------------

    @property
    def accepted(self) -> int:
        """Records taken from Kafka and not finished or dropped yet."""
        return self._accepted

    @property
    def unacknowledged(self) -> int:
        """Records handed to the producer, slot given back, acknowledgement (or final end) still to come."""
        return self._unacknowledged

    @property
    def free_slots(self) -> int:
        unacknowledged_room = self.max_unacknowledged + self.capacity - self._accepted - self._unacknowledged
        return min(self.capacity - self._accepted, unacknowledged_room)

    async def wait_for_free_slot(self, within: float) -> bool:
        """Wait up to ``within`` for room; ``True`` when there is some.

        A saturated consumer woken for every freed slot fetched one record per
        poll, and a poll costs about what processing a record does. So the wait
        first holds out up to ``REFILL_WAIT_SECONDS`` for ``refill`` free slots
        (one poll then takes a batch), then takes any free slot: records stuck
        in slow handlers cannot hold the rest back by more than that.
        """
        if self.free_slots > 0:
            return True
        now = asyncio.get_running_loop().time()
        deadline = now + within
        for wake_at, until in ((self.refill, min(deadline, now + REFILL_WAIT_SECONDS)), (1, deadline)):
            if self.free_slots >= wake_at:
                return True
            self._wake_at = wake_at
            self._slot_freed.clear()
            # ``timeout_at``, not ``wait_for``: no task per wait on the saturated consume loop's path.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(until):
                    await self._slot_freed.wait()
        return self.free_slots > 0

    def _take_slot(self) -> None:
        self._accepted += 1
        self._idle.clear()

    def _release_slot(self) -> None:
        self._accepted -= 1
        self._freed()

    def _release_unacknowledged(self) -> None:
        self._unacknowledged -= 1
        self._freed()

    def _freed(self) -> None:
        if self.free_slots >= self._wake_at:
            self._slot_freed.set()
        if self._accepted == 0 and self._unacknowledged == 0:
            self._idle.set()

    def _hand_off(self, lane: _Lane[ItemT]) -> None:
        if lane.head_holds_slot and lane.queue:
            lane.head_holds_slot = False
            self._unacknowledged += 1
            self._release_slot()

    def _end_head(self, lane: _Lane[ItemT]) -> None:
        """The running record ended (finished or abandoned): free whatever it still holds."""
        if lane.head_holds_slot:
            self._release_slot()
        else:
            self._release_unacknowledged()
        lane.head_holds_slot = True

    # -- partitions ----------------------------------------------------------------------

    @property
    def partitions(self) -> list[PartitionT]:
        return list(self._partitions)

    def assign(self, partition: PartitionT) -> None:
        if partition in self._partitions:
            raise ValueError(f"partition {partition!r} is already assigned")
        self._partitions[partition] = _PartitionWork(offsets=self.tracker.assign(partition))

    def owns(self, partition: PartitionT) -> bool:
        """Assigned here and not lost (revoked, or fenced by a new owner's transactional producer)."""
        work = self._partitions.get(partition)
        return work is not None and work.ownership.owned

    def ownership(self, partition: PartitionT) -> Ownership:
        """The token of ``partition``'s current assignment (what the transactional outbox files its work under)."""
        return self._partitions[partition].ownership

    def submit(self, partition: PartitionT, key: bytes | None, offset: int, item: ItemT) -> None:
        """Accept one record; the caller must have checked ``free_slots`` (raises when full)."""
        work = self._partitions.get(partition)
        if work is None or not work.ownership.owned:
            raise ValueError(f"partition {partition!r} is not owned; its records must not be accepted")
        if self.free_slots <= 0:
            raise RuntimeError("dispatcher is full; check free_slots before submitting")
        work.offsets.start(offset)
        self._take_slot()
        lane_key: Hashable = key if key is not None else ("unkeyed", offset)
        lane = work.lanes.get(lane_key)
        if lane is None:
            lane = work.lanes[lane_key] = _Lane()
        lane.queue.append((offset, item))
        if lane.task is None:
            lane.task = asyncio.create_task(self._run_lane(partition, work, lane_key, lane))

    async def _run_lane(
        self, partition: PartitionT, work: _PartitionWork[ItemT], lane_key: Hashable, lane: _Lane[ItemT]
    ) -> None:
        """Run the lane's records in order; ``_close_lane`` on the way out, however it ends.

        A ``finally``, not a done callback (one more event-loop callback per record). A task cancelled
        before its first step never enters the ``try``: ``revoke`` closes those lanes itself.
        """
        _running_lane.set((self, lane))  # this task's own context: ``handed_off`` finds its lane
        try:
            while lane.queue and work.ownership.owned:
                offset, item = lane.queue[0]
                try:
                    done = await self._process(item, work.ownership)
                except Exception as exc:
                    # A bug in processing. Finishing would lose the record; it stays unfinished, the owner is told.
                    logger.exception(
                        "processing a record raised", extra={"partition": str(partition), "offset": offset}
                    )
                    if self.on_bug is not None:
                        self.on_bug("record processing", exc)
                    return
                if not done:
                    return
                lane.queue.popleft()
                work.offsets.finish(offset)
                self._end_head(lane)
                if self.on_finished is not None:
                    self.on_finished(partition)
        finally:
            self._close_lane(work, lane_key, lane)

    def _close_lane(self, work: _PartitionWork[ItemT], lane_key: Hashable, lane: _Lane[ItemT]) -> None:
        """Unregister the lane and release the slots of records that never started or were abandoned.

        Idempotent. Unregistering in the same step as the queue ran empty makes the key's next record
        start a new lane; what is still queued is run by the partition's next owner.
        """
        # The lane, its task and the task's context (``_running_lane``) form a cycle: broken here, every
        # record's objects go with its reference count instead of piling up for the cyclic collector.
        lane.task = None
        if lane.queue:
            self._end_head(lane)  # the head may have been handed off already
            for _ in range(len(lane.queue) - 1):
                self._release_slot()
        lane.queue.clear()
        if work.lanes.get(lane_key) is lane:
            del work.lanes[lane_key]

    async def revoke(self, partitions: Iterable[PartitionT], grace_seconds: float) -> None:
        """Stop work on ``partitions``: nothing new starts, running records get ``grace_seconds``.

        On return no task runs for them any more; their ``tracker`` state is kept
        so the caller can commit what finished, then ``release`` them.
        """
        works = [self._partitions[p] for p in partitions if p in self._partitions]
        for work in works:
            work.ownership.lose()
        tasks = [task for work in works for task in work.tasks()]
        await _finish_or_cancel(tasks, grace_seconds)
        for work in works:
            # Lanes whose task was cancelled before its first step never ran their ``finally``.
            for lane_key, lane in list(work.lanes.items()):
                self._close_lane(work, lane_key, lane)

    def release(self, partitions: Iterable[PartitionT]) -> None:
        for partition in partitions:
            self._partitions.pop(partition, None)
            self.tracker.release(partition)

    async def drain(self, timeout_seconds: float) -> bool:
        """Let every accepted record finish (queued ones included) within the timeout; cancel the rest.

        ``True`` when everything finished. Used on shutdown, after fetching stopped.
        """
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_seconds)
            return True
        except TimeoutError:
            await self.revoke(list(self._partitions), grace_seconds=0)
            return False

    def unfinished_by_partition(self) -> dict[PartitionT, int]:
        return {p: work.offsets.unfinished_count for p, work in self._partitions.items()}


async def _finish_or_cancel(tasks: list[asyncio.Task[None]], grace_seconds: float) -> None:
    if not tasks:
        return
    _done, pending = await asyncio.wait(tasks, timeout=grace_seconds) if grace_seconds > 0 else (set(), set(tasks))
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
