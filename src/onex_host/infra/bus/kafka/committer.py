"""Committing finished work and measuring consumer lag, on the consumer's own schedule.

``offsets`` decides *what* may be committed (pure); this module decides
*when* and talks to the broker: in the background at most every
``commit_interval_seconds`` (never two commits at once, so an older position
can never overwrite a newer one), for revoked partitions before the group
moves them, and once more on shutdown. A failed commit only means finished
work may be replayed by the next owner; it is logged and retried by the next
commit, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.bus.kafka.offsets import OffsetTracker
from onex_host.infra.metrics import HostMetrics

logger = logging.getLogger(__name__)


class OffsetCommitter:
    def __init__(
        self,
        config: KafkaBusConfig,
        tracker: OffsetTracker[TopicPartition],
        metrics: HostMetrics,
        on_failure: Callable[[str, BaseException], None] | None = None,
        *,
        commits: bool = True,
    ) -> None:
        """``on_failure`` is told when the background commit or lag task raised (the bus restarts its loop).

        ``commits=False``: offsets are committed elsewhere (inside exactly-once transactions); only lag is measured.
        """
        self._on_failure = on_failure
        self._commits = commits
        self._config = config
        self._tracker = tracker
        self._metrics = metrics
        self._mode = metrics.mode
        self.consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._last_commit = 0.0
        self.lag: dict[TopicPartition, int] = {}
        """Last measured lag per owned partition, for health details."""

    def maybe_commit_in_background(self) -> None:
        """Start a commit (and a lag update) if the interval passed and none is running; never waits."""
        now = time.monotonic()
        if now - self._last_commit < self._config.commit_interval_seconds:
            return
        if self._task is not None and not self._task.done():
            return
        self._last_commit = now
        self._task = asyncio.create_task(self._periodic_commit(), name="kafka-bus-commit")
        self._task.add_done_callback(self._report_failure)

    def _report_failure(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        assert error is not None
        logger.error("kafka background commit or lag update failed", exc_info=error)
        if self._on_failure is not None:
            self._on_failure("background commit", error)

    async def _periodic_commit(self) -> None:
        await self.commit(within=self._config.request_timeout_ms / 1000)
        await self._update_lag()

    async def wait_for_background_commit(self) -> None:
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def commit(self, partitions: set[TopicPartition] | None = None, *, within: float) -> None:
        """Commit finished work of ``partitions`` (default: all owned) within ``within`` seconds."""
        consumer = self.consumer
        if consumer is None or not self._commits:
            return
        async with self._lock:
            positions = self._tracker.pending_commits(partitions)
            if not positions:
                return
            try:
                await asyncio.wait_for(consumer.commit(positions), within)
            except (KafkaError, TimeoutError) as exc:
                logger.warning(
                    "offset commit failed; finished work may be replayed",
                    extra={"error": repr(exc), "partitions": len(positions)},
                )
                return
            self._tracker.mark_committed(positions)

    async def _update_lag(self) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        for tp in self._tracker.partitions:
            # The snapshot goes stale across awaits: a partition revoked meanwhile is skipped, never asked about
            # (aiokafka asserts on it) and never given a gauge again after ``forget`` removed it.
            if not self._owned(consumer, tp):
                continue
            highwater = consumer.highwater(tp)
            offsets = self._tracker.get(tp)
            position = offsets.committable if offsets is not None else None
            if highwater is None:
                continue
            if position is None:
                try:
                    position = await asyncio.wait_for(consumer.position(tp), 1.0)
                except (KafkaError, TimeoutError, AssertionError):
                    continue
                if not self._owned(consumer, tp):
                    continue
            lag = max(highwater - position, 0)
            self.lag[tp] = lag
            self._metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition), mode=self._mode).set(lag)

    def _owned(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> bool:
        return tp in self._tracker and tp in consumer.assignment()

    def forget(self, partitions: list[TopicPartition]) -> None:
        """Drop the lag of partitions this consumer no longer owns, so no stale gauge stays exported."""
        for tp in partitions:
            self.lag.pop(tp, None)
            with contextlib.suppress(KeyError):
                self._metrics.consumer_lag.remove(tp.topic, str(tp.partition), self._mode)
