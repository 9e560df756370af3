"""Concurrency for consumed envelopes: per-key order, a global bound, revocable ownership.

Ordering guarantee (what producers can rely on): records of the same
partition *and* the same Kafka key are processed one after another, in offset
order, each to completion (retries included) before the next starts. Records
with different keys, or from different partitions, run concurrently. Records
without a key carry no ordering promise and run concurrently with everything.
Key commands by what must stay ordered (an entity id); keying by a random id
buys maximum concurrency.

Bound: at most ``capacity`` records are accepted and unfinished at any time
(running, retrying or queued behind their key). The consume loop asks
``free_slots`` before fetching and pauses the consumer when it is zero, so
the bound is backpressure on Kafka, not a growing buffer.

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
from dataclasses import dataclass, field
from typing import Generic, TypeVar

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


ProcessFn = Callable[[ItemT, Ownership], Awaitable[bool]]
"""Processes one record; ``True`` when done (reply published or dead-lettered), ``False`` when
abandoned because ownership was lost. Must not raise: a raise is a bug, reported to ``on_bug``,
and the record is left unfinished (its offset is never committed past it)."""


@dataclass(eq=False)
class _Lane(Generic[ItemT]):
    queue: deque[tuple[int, ItemT]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


@dataclass(eq=False)
class _PartitionWork(Generic[ItemT]):
    offsets: PartitionOffsets
    ownership: Ownership = field(default_factory=Ownership)
    lanes: dict[Hashable, _Lane[ItemT]] = field(default_factory=dict)

    def tasks(self) -> list[asyncio.Task[None]]:
        return [lane.task for lane in self.lanes.values() if lane.task is not None]


class KeyedDispatcher(Generic[PartitionT, ItemT]):
    """Runs consumed records concurrently under the rules in the module docstring."""

    def __init__(self, capacity: int, process: ProcessFn[ItemT]) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.tracker: OffsetTracker[PartitionT] = OffsetTracker()
        self._process = process
        self._partitions: dict[PartitionT, _PartitionWork[ItemT]] = {}
        self._accepted = 0
        self._slot_freed = asyncio.Event()
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
    def free_slots(self) -> int:
        return self.capacity - self._accepted

    async def wait_for_free_slot(self, within: float) -> bool:
        if self.free_slots > 0:
            return True
        self._slot_freed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._slot_freed.wait(), within)
        return self.free_slots > 0

    def _take_slot(self) -> None:
        self._accepted += 1
        self._idle.clear()

    def _release_slot(self) -> None:
        self._accepted -= 1
        self._slot_freed.set()
        if self._accepted == 0:
            self._idle.set()

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
            # A done callback, not a ``finally``: a task cancelled before it first ran never runs its body.
            lane.task.add_done_callback(lambda _task: self._close_lane(work, lane_key, lane))

    async def _run_lane(
        self, partition: PartitionT, work: _PartitionWork[ItemT], lane_key: Hashable, lane: _Lane[ItemT]
    ) -> None:
        while lane.queue and work.ownership.owned:
            offset, item = lane.queue[0]
            try:
                done = await self._process(item, work.ownership)
            except Exception as exc:
                # A bug in processing. Finishing would lose the record; it stays unfinished and the owner is told.
                logger.exception("processing a record raised", extra={"partition": str(partition), "offset": offset})
                if self.on_bug is not None:
                    self.on_bug("record processing", exc)
                return
            if not done:
                return
            lane.queue.popleft()
            work.offsets.finish(offset)
            self._release_slot()
            if self.on_finished is not None:
                self.on_finished(partition)
        if not lane.queue and work.lanes.get(lane_key) is lane:
            # Unregister in the same step as the queue ran empty, so the key's next record starts a new lane.
            del work.lanes[lane_key]

    def _close_lane(self, work: _PartitionWork[ItemT], lane_key: Hashable, lane: _Lane[ItemT]) -> None:
        """Release the slots of records that never started or were abandoned: the next owner runs them."""
        for _ in lane.queue:
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
