"""Reads the legacy and the shadow response topics side by side.

The reader joins no consumer group and commits nothing: a comparison must
never move the offsets of, or take partitions from, the deployments it
watches, and two comparators may run at once. It is assigned every partition
of both topics and reads them interleaved, so the two sides advance together.

Brokers that cannot be reached or fail are a ``BrokerUnreachableError``; so
is a response topic that does not exist. The runbook (docs/migration.md)
promises exit 3 for "the brokers or a topic are unreachable", because a
missing reply topic usually means the deployment is not (yet) running, not
that the operator mistyped it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from onex_host.infra.kafka_tools.errors import BrokerUnreachableError, UnknownTopicError, map_kafka_errors
from onex_host.infra.kafka_tools.shadow.observed import Side
from onex_host.infra.kafka_tools.topics import topic_partitions


@dataclass(frozen=True)
class ReadStart:
    """Where reading begins on both topics: their end (default), their beginning, or a time ago."""

    earliest: bool = False
    since_seconds: float | None = None

    def epoch(self, now: float) -> float | None:
        """The wall-clock time reading starts from; None when it starts at the beginning of the topics."""
        if self.earliest:
            return None
        return now - (self.since_seconds or 0.0)


class ResponseTopicReader:
    def __init__(self, client_settings: Mapping[str, Any], legacy_topic: str, shadow_topic: str) -> None:
        if legacy_topic == shadow_topic:
            raise ValueError("the legacy and the shadow response topics must differ")
        self._topics = {legacy_topic: Side.LEGACY, shadow_topic: Side.SHADOW}
        self._client_settings = dict(client_settings)
        self._ends: dict[TopicPartition, int] = {}
        self.snapshot_epoch = 0.0
        """When the topics' end offsets were taken (see ``caught_up``)."""
        self._consumer = AIOKafkaConsumer(
            **client_settings,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            isolation_level="read_committed",
        )

    async def start(self, position: ReadStart) -> float | None:
        """Connect, assign both topics and seek; returns the epoch of the read start (see ``ReadStart``)."""
        try:
            with map_kafka_errors(self._client_settings):
                return await self._start(position)
        except BaseException:
            await self._consumer.stop()
            raise

    async def _start(self, position: ReadStart) -> float | None:
        await self._consumer.start()
        partitions = await self._partitions()
        self._consumer.assign(partitions)
        # Let the initial position lookup finish first: a lookup still in flight
        # would overwrite the seek below (aiokafka applies its result afterwards).
        for tp in partitions:
            await self._consumer.position(tp)
        self.snapshot_epoch = time.time()
        self._ends = await self._consumer.end_offsets(partitions)
        started_at = position.epoch(self.snapshot_epoch)
        for tp, offset in (await self._start_offsets(partitions, position, started_at)).items():
            self._consumer.seek(tp, offset)
        return started_at

    async def read(self, timeout_ms: int) -> list[tuple[Side, ConsumerRecord[bytes, bytes]]]:
        """The records fetched within ``timeout_ms``, each with the side its topic belongs to."""
        with map_kafka_errors(self._client_settings):
            batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=5_000)
        return [(self._topics[tp.topic], record) for tp, records in batches.items() for record in records]

    async def caught_up(self) -> bool:
        """True once every partition was read up to where it ended when reading started."""
        with map_kafka_errors(self._client_settings):
            for tp, end in self._ends.items():
                if await self._consumer.position(tp) < end:
                    return False
        return True

    async def stop(self) -> None:
        await self._consumer.stop()

    async def _partitions(self) -> list[TopicPartition]:
        admin = AIOKafkaAdminClient(**self._client_settings)
        try:
            await admin.start()
            return await topic_partitions(admin, list(self._topics))
        except UnknownTopicError as exc:
            raise BrokerUnreachableError(str(exc)) from None
        finally:
            await admin.close()

    async def _start_offsets(
        self, partitions: list[TopicPartition], position: ReadStart, started_at: float | None
    ) -> dict[TopicPartition, int]:
        if started_at is None:
            return dict(await self._consumer.beginning_offsets(partitions))
        if not position.since_seconds:
            return dict(self._ends)
        found = await self._consumer.offsets_for_times(dict.fromkeys(partitions, int(started_at * 1000)))
        return {tp: self._ends[tp] if at is None else at.offset for tp, at in found.items()}
