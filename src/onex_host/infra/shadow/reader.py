"""Reads the legacy and the shadow response topics side by side.

The reader joins no consumer group and commits nothing: a comparison must
never move the offsets of, or take partitions from, the deployments it
watches, and two comparators may run at once. It is assigned every partition
of both topics and reads them interleaved, so the two sides advance together.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from onex_host.infra.kafka_topics import UnknownTopicError, topic_partitions
from onex_host.infra.shadow.observed import Side


class TopicReadError(Exception):
    """A topic cannot be read (unknown topic, unreachable brokers); the message names which."""


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
            await self._consumer.start()
        except KafkaError as exc:
            await self._consumer.stop()
            raise TopicReadError(f"cannot reach the Kafka brokers: {exc}") from None
        try:
            partitions = await self._partitions()
            self._consumer.assign(partitions)
            started_at = position.epoch(time.time())
            if started_at is None:
                await self._consumer.seek_to_beginning(*partitions)
            elif position.since_seconds:
                await self._seek_to_time(partitions, started_at)
            else:
                await self._consumer.seek_to_end(*partitions)
        except BaseException:
            await self._consumer.stop()
            raise
        return started_at

    async def read(self, timeout_ms: int) -> list[tuple[Side, ConsumerRecord[bytes, bytes]]]:
        """The records fetched within ``timeout_ms``, each with the side its topic belongs to."""
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=5_000)
        return [(self._topics[tp.topic], record) for tp, records in batches.items() for record in records]

    async def stop(self) -> None:
        await self._consumer.stop()

    async def _partitions(self) -> list[TopicPartition]:
        admin = AIOKafkaAdminClient(**self._client_settings)
        try:
            await admin.start()
            return await topic_partitions(admin, list(self._topics))
        except UnknownTopicError as exc:
            raise TopicReadError(str(exc)) from None
        except KafkaError as exc:
            raise TopicReadError(f"cannot list topics: {exc}") from None
        finally:
            await admin.close()

    async def _seek_to_time(self, partitions: list[TopicPartition], epoch: float) -> None:
        found = await self._consumer.offsets_for_times(dict.fromkeys(partitions, int(epoch * 1000)))
        past_the_end = [tp for tp, found_offset in found.items() if found_offset is None]
        for tp, found_offset in found.items():
            if found_offset is not None:
                self._consumer.seek(tp, found_offset.offset)
        if past_the_end:
            await self._consumer.seek_to_end(*past_the_end)
