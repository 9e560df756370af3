"""Which offsets may be committed: the at-least-once rule, as pure logic.

Envelopes of one partition finish out of order (different keys run
concurrently), but Kafka stores a single position per partition: everything
before it counts as done. So the committable position of a partition is the
first offset that was handed out and is not finished yet, or one past the
last handed-out offset when all are finished. Commits never skip unfinished
work; a crash replays from the oldest unfinished envelope (duplicates are
possible, losses are not).

Offsets are tracked as handed out rather than assumed contiguous, because
compaction and transaction markers leave gaps in a partition's offsets.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Mapping
from typing import Generic, TypeVar

PartitionT = TypeVar("PartitionT", bound=Hashable)


class PartitionOffsets:
    """Offsets of one partition, from one assignment: started, finished, committed."""

    __slots__ = ("_committed", "_first_started", "_last_started", "_open", "_order")

    def __init__(self) -> None:
        # O(1) per record, amortised: ``_open`` answers "started and not finished?" in one lookup, and
        # ``_order`` keeps start order; its head is always open, finished offsets behind it are popped
        # once the head finishes. (A scan of the unfinished offsets per finish made draining n in-flight
        # records O(n^2).)
        self._open: set[int] = set()  # started, not finished
        self._order: deque[int] = deque()  # started, in offset order, from the oldest open one on
        self._first_started: int | None = None
        self._last_started: int | None = None
        self._committed: int | None = None

    def start(self, offset: int) -> None:
        """Record that ``offset`` was handed out; offsets must be started in increasing order."""
        if self._last_started is not None and offset <= self._last_started:
            raise ValueError(f"offset {offset} started after {self._last_started}: offsets must increase")
        if self._first_started is None:
            self._first_started = offset
        self._last_started = offset
        self._open.add(offset)
        self._order.append(offset)

    def finish(self, offset: int) -> None:
        """Record that ``offset``'s reply is published (or it was dead-lettered)."""
        if offset not in self._open:
            raise ValueError(f"offset {offset} was not started or is already finished")
        self._open.remove(offset)
        order, still_open = self._order, self._open
        while order and order[0] not in still_open:
            order.popleft()

    @property
    def committable(self) -> int | None:
        """The position to commit (next offset to read), or ``None`` before anything started."""
        if self._order:
            return self._order[0]
        return None if self._last_started is None else self._last_started + 1

    @property
    def pending_commit(self) -> int | None:
        """``committable`` if it moved past what was last committed (or fetched from), else ``None``."""
        position = self.committable
        floor = self._committed if self._committed is not None else self._first_started
        if position is None or floor is None or position <= floor:
            return None
        return position

    @property
    def unfinished_count(self) -> int:
        return len(self._open)

    @property
    def committed(self) -> int | None:
        return self._committed

    def mark_committed(self, position: int) -> None:
        if self._committed is None or position > self._committed:
            self._committed = position


class OffsetTracker(Generic[PartitionT]):
    """``PartitionOffsets`` for every partition this consumer currently owns."""

    def __init__(self) -> None:
        self._partitions: dict[PartitionT, PartitionOffsets] = {}

    def assign(self, partition: PartitionT) -> PartitionOffsets:
        """Fresh state for a (re)assigned partition: consumption restarts from its committed offset."""
        offsets = PartitionOffsets()
        self._partitions[partition] = offsets
        return offsets

    def release(self, partition: PartitionT) -> None:
        self._partitions.pop(partition, None)

    @property
    def partitions(self) -> list[PartitionT]:
        """A snapshot: callers may await while iterating it."""
        return list(self._partitions)

    def get(self, partition: PartitionT) -> PartitionOffsets | None:
        return self._partitions.get(partition)

    def pending_commits(self, partitions: set[PartitionT] | None = None) -> dict[PartitionT, int]:
        """Positions that moved since the last commit, optionally only for ``partitions``."""
        pending: dict[PartitionT, int] = {}
        for partition, offsets in self._partitions.items():
            if partitions is not None and partition not in partitions:
                continue
            position = offsets.pending_commit
            if position is not None:
                pending[partition] = position
        return pending

    def mark_committed(self, positions: Mapping[PartitionT, int]) -> None:
        for partition, position in positions.items():
            offsets = self._partitions.get(partition)
            if offsets is not None:
                offsets.mark_committed(position)

    def __contains__(self, partition: object) -> bool:
        return partition in self._partitions
