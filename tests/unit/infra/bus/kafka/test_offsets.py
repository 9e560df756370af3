from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onex_host.infra.bus.kafka.offsets import OffsetTracker, PartitionOffsets


def test_nothing_is_committable_before_work_starts() -> None:
    offsets = PartitionOffsets()
    assert offsets.committable is None
    assert offsets.pending_commit is None


def test_out_of_order_completion_never_skips_unfinished_work() -> None:
    offsets = PartitionOffsets()
    for offset in (10, 11, 12, 13):
        offsets.start(offset)
    offsets.finish(12)
    offsets.finish(13)
    assert offsets.committable == 10  # 10 and 11 still running: replay them after a crash
    offsets.finish(10)
    assert offsets.committable == 11
    offsets.finish(11)
    assert offsets.committable == 14
    assert offsets.unfinished_count == 0


def test_gaps_in_offsets_are_allowed() -> None:
    offsets = PartitionOffsets()
    offsets.start(5)
    offsets.start(9)  # compaction or a transaction marker in between
    offsets.finish(9)
    assert offsets.committable == 5
    offsets.finish(5)
    assert offsets.committable == 10


def test_pending_commit_only_reports_progress() -> None:
    offsets = PartitionOffsets()
    offsets.start(0)
    offsets.finish(0)
    assert offsets.pending_commit == 1
    offsets.mark_committed(1)
    assert offsets.pending_commit is None
    offsets.mark_committed(0)  # a late, older commit never moves the position back
    assert offsets.committed == 1


def test_finishing_an_unknown_or_finished_offset_is_a_bug() -> None:
    offsets = PartitionOffsets()
    offsets.start(3)
    with pytest.raises(ValueError, match="not started"):
        offsets.finish(4)
    offsets.start(4)
    offsets.finish(4)
    with pytest.raises(ValueError, match="already finished"):
        offsets.finish(4)


def test_offsets_must_be_started_in_order() -> None:
    offsets = PartitionOffsets()
    offsets.start(7)
    with pytest.raises(ValueError, match="must increase"):
        offsets.start(7)


def test_tracker_reports_pending_commits_per_partition_and_forgets_released_ones() -> None:
    tracker: OffsetTracker[str] = OffsetTracker()
    a, b = tracker.assign("a"), tracker.assign("b")
    a.start(0)
    a.finish(0)
    b.start(0)
    assert tracker.pending_commits() == {"a": 1}
    b.finish(0)
    assert tracker.pending_commits({"b"}) == {"b": 1}
    tracker.mark_committed({"a": 1, "b": 1, "gone": 3})
    assert tracker.pending_commits() == {}
    tracker.release("a")
    assert "a" not in tracker
    assert tracker.get("a") is None
    # a reassigned partition starts fresh: consumption resumes from the committed offset
    assert tracker.assign("b").committable is None


@given(st.data())
def test_committable_is_always_the_oldest_unfinished_offset_whatever_the_finishing_order(data: st.DataObject) -> None:
    # A model: the committable position is the oldest started offset not yet finished, else one past the last.
    starts = sorted(data.draw(st.sets(st.integers(0, 10_000), min_size=1, max_size=60)))
    offsets = PartitionOffsets()
    started: list[int] = []
    finished: set[int] = set()
    for offset in starts:
        offsets.start(offset)
        started.append(offset)
        for _ in range(data.draw(st.integers(0, 3))):
            candidates = [o for o in started if o not in finished]
            if not candidates:
                break
            chosen = data.draw(st.sampled_from(candidates))
            offsets.finish(chosen)
            finished.add(chosen)
            with pytest.raises(ValueError, match="already finished"):
                offsets.finish(chosen)
            unfinished = [o for o in started if o not in finished]
            assert offsets.committable == (unfinished[0] if unfinished else started[-1] + 1)
            assert offsets.unfinished_count == len(unfinished)
