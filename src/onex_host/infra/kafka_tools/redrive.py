"""Replay dead letters to the topic they came from, after the cause was fixed.

A redrive reads the dead-letter topic from where the previous redrive of the
same ``group`` stopped (the beginning the first time) up to the end offsets
seen when it starts, so records dead-lettered again while it runs are not
picked up in the same pass. Each dead letter goes back to its
``onex.dlq.origin_topic`` (or ``to_topic``) with its original key, bytes and
headers; the ``onex.dlq.*`` headers are dropped and ``onex.redriven_from``
added. The group's offsets are committed only after everything read was
produced and acknowledged, so an interrupted redrive replays from the start
of the pass (a record may be redriven twice, never skipped).

A dead-letter topic that does not exist is an ``UnknownTopicError``; brokers
that cannot be reached or fail are a ``BrokerUnreachableError``. Either way
nothing was committed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from onex_host.infra.bus.kafka.codec import read_dead_letter_headers, redriven_headers
from onex_host.infra.kafka_tools.errors import map_kafka_errors
from onex_host.infra.kafka_tools.topics import topic_partitions


@dataclass
class RedriveReport:
    """What a redrive pass did; ``redriven`` counts per destination topic."""

    dead_letter_topic: str
    scanned: int = 0
    redriven: Counter[str] = field(default_factory=Counter)
    skipped_by_reason: Counter[str] = field(default_factory=Counter)
    not_dead_letters: int = 0
    without_value: int = 0
    dry_run: bool = False

    @property
    def redriven_total(self) -> int:
        return sum(self.redriven.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "dead_letter_topic": self.dead_letter_topic,
            "scanned": self.scanned,
            "redriven": self.redriven_total,
            "redriven_by_topic": dict(self.redriven),
            "skipped_by_reason": dict(self.skipped_by_reason),
            "not_dead_letters": self.not_dead_letters,
            "without_value": self.without_value,
            "dry_run": self.dry_run,
        }


ProgressFn = Callable[[RedriveReport], None]


async def redrive_dead_letters(
    settings: dict[str, Any],
    dead_letter_topic: str,
    *,
    group: str,
    to_topic: str | None = None,
    reason: str | None = None,
    dry_run: bool = False,
    progress: ProgressFn | None = None,
    progress_every: int = 500,
) -> RedriveReport:
    """One redrive pass; see the module docstring. ``settings`` are aiokafka client settings."""
    report = RedriveReport(dead_letter_topic, dry_run=dry_run)
    consumer = AIOKafkaConsumer(
        **settings,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(**settings, acks="all", enable_idempotence=True)
    try:
        with map_kafka_errors(settings):
            await consumer.start()
            if not dry_run:
                await producer.start()
            tps = await _partitions_of(settings, dead_letter_topic)
            consumer.assign(tps)
            ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
            pending = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
            positions: dict[TopicPartition, int] = {}
            while pending:
                batches = await consumer.getmany(*pending, timeout_ms=1_000)
                sends: list[asyncio.Future[Any]] = []
                for tp, records in batches.items():
                    for record in records:
                        if record.offset >= ends[tp]:
                            break  # dead-lettered after the pass started: left for the next pass
                        future = await _redrive_one(producer, record, report, to_topic, reason, dry_run)
                        if future is not None:
                            sends.append(future)
                        positions[tp] = record.offset + 1
                        if progress is not None and report.scanned % progress_every == 0:
                            progress(report)
                await asyncio.gather(*sends)  # acknowledged before reading on: memory stays bounded
                for tp in list(pending):
                    if positions.get(tp, 0) >= ends[tp] or await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
            if positions and not dry_run:
                await consumer.commit(positions)
        return report
    finally:
        with contextlib.suppress(KafkaError):
            await consumer.stop()
        with contextlib.suppress(KafkaError):
            await producer.stop()


async def _partitions_of(settings: dict[str, Any], topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(**settings)
    await admin.start()
    try:
        return await topic_partitions(admin, [topic], role="dead-letter topic")
    finally:
        await admin.close()


async def _redrive_one(
    producer: AIOKafkaProducer,
    record: ConsumerRecord,
    report: RedriveReport,
    to_topic: str | None,
    reason: str | None,
    dry_run: bool,
) -> asyncio.Future[Any] | None:
    report.scanned += 1
    headers = tuple(record.headers or ())
    info = read_dead_letter_headers(headers)
    if info is None:
        report.not_dead_letters += 1
        return None
    if reason is not None and info.reason != reason:
        report.skipped_by_reason[info.reason] += 1
        return None
    if record.value is None:
        report.without_value += 1  # too large to keep: the original bytes are gone
        return None
    destination = to_topic or info.origin_topic
    report.redriven[destination] += 1
    if dry_run:
        return None
    future: asyncio.Future[Any] = await producer.send(
        destination, value=record.value, key=record.key, headers=redriven_headers(headers, record.topic)
    )
    return future
