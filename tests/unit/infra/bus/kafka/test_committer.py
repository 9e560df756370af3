"""The committer's lag update against a consumer whose assignment changes while it awaits."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from onex_host.infra.bus.kafka.committer import OffsetCommitter
from onex_host.infra.bus.kafka.offsets import OffsetTracker
from onex_host.infra.metrics import HostMetrics
from tests.support.builders.kafka_bus import bus_config

A, B = TopicPartition("cmd", 0), TopicPartition("cmd", 1)


class RevokingConsumer:
    """Asserts like aiokafka on unassigned partitions; revokes ``B`` while ``position(A)`` is awaited."""

    def __init__(self, tracker: OffsetTracker[TopicPartition], committer: OffsetCommitter) -> None:
        self._assigned = {A, B}
        self._tracker = tracker
        self._committer = committer

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def highwater(self, tp: TopicPartition) -> int:
        assert tp in self._assigned, "Partition is not assigned"
        return 10

    async def position(self, tp: TopicPartition) -> int:
        assert tp in self._assigned, "Partition is not assigned"
        await asyncio.sleep(0)
        # The rebalance listener runs meanwhile: B is revoked, released and forgotten.
        self._assigned.discard(B)
        self._tracker.release(B)
        self._committer.forget([B])
        return 4


async def test_a_partition_revoked_during_the_lag_update_is_skipped_and_keeps_no_gauge() -> None:
    metrics = HostMetrics(mode="primary")
    tracker: OffsetTracker[TopicPartition] = OffsetTracker()
    tracker.assign(A)
    tracker.assign(B)
    committer = OffsetCommitter(bus_config("127.0.0.1:1", "t.commit"), tracker, metrics)
    committer.consumer = RevokingConsumer(tracker, committer)  # type: ignore[assignment]
    await committer._update_lag()
    assert committer.lag == {A: 6}
    rendered = metrics.render().decode()
    assert 'partition="0"' in rendered
    assert 'partition="1"' not in rendered


async def test_a_failed_background_commit_is_reported_to_the_bus() -> None:
    failures: list[str] = []
    tracker: OffsetTracker[TopicPartition] = OffsetTracker()
    committer = OffsetCommitter(
        bus_config("127.0.0.1:1", "t.commit"),
        tracker,
        HostMetrics(mode="primary"),
        on_failure=lambda w, _e: failures.append(w),
    )

    class Broken:
        def assignment(self) -> set[TopicPartition]:
            raise AssertionError("aiokafka internal state")

    tracker.assign(A)
    committer.consumer = Broken()  # type: ignore[assignment]
    committer.maybe_commit_in_background()
    await asyncio.sleep(0.05)
    assert failures == ["background commit"]
