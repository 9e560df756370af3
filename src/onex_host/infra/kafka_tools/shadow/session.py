"""One comparison run: read both topics into the comparator until told to stop."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

from aiokafka import ConsumerRecord

from onex_host.infra.kafka_tools.shadow.comparator import ComparisonReport, ReplyComparator
from onex_host.infra.kafka_tools.shadow.observed import Side, decode_reply

POLL_TIMEOUT_MS = 200


class RecordSource(Protocol):
    snapshot_epoch: float

    async def read(self, timeout_ms: int) -> list[tuple[Side, ConsumerRecord[bytes, bytes]]]: ...

    async def caught_up(self) -> bool: ...


@dataclass(frozen=True)
class StopWhen:
    """A bounded run ends at whichever limit comes first; with none it runs until ``stop`` is set.

    ``caught_up``: end once both topics are read up to where they ended when
    the run started (comparing what is already there, e.g. the last hour).
    """

    duration_seconds: float | None = None
    max_replies: int | None = None
    caught_up: bool = False

    def reached(self, elapsed: float, judged: int) -> bool:
        if self.duration_seconds is not None and elapsed >= self.duration_seconds:
            return True
        return self.max_replies is not None and judged >= self.max_replies


async def run_comparison(
    source: RecordSource,
    comparator: ReplyComparator,
    until: StopWhen,
    stop: asyncio.Event | None = None,
    on_tick: ComparisonTick | None = None,
) -> ComparisonReport:
    """Feed records to the comparator until ``until`` or ``stop`` says so.

    While the reader works through what the topics held when it started
    (``--since``, ``--from-beginning``), the two topics may advance at
    different paces, so nothing is judged missing by arrival; once caught up,
    replies stamped a window before the start snapshot without a partner are
    missing, and from then on a reply waits ``window`` seconds of arrival time.
    Replies still inside their window when the run ends stay ``pending``.
    ``on_tick`` sees the comparator after every poll (the ``--follow`` metrics).
    """
    started = time.monotonic()
    settled = False
    while stop is None or not stop.is_set():
        batch = await source.read(POLL_TIMEOUT_MS)
        now = time.monotonic()
        for side, record in batch:
            observed = decode_reply(
                side, record.value, record.key, arrived_at=now, record_timestamp_ms=record.timestamp
            )
            if observed is None:
                comparator.observe_undecodable(side)
            else:
                comparator.observe(observed)
        if not settled and await source.caught_up():
            settled = True
            comparator.expire_stamped_before(source.snapshot_epoch - comparator.window_seconds, now=now)
            if until.caught_up:
                break
        if settled:
            comparator.expire(now)
        if on_tick is not None:
            on_tick(comparator)
        if until.reached(now - started, comparator.judged):
            break
    return comparator.report()


class ComparisonTick(Protocol):
    def __call__(self, comparator: ReplyComparator, /) -> None: ...
