"""Plain-aiokafka helpers for the Kafka bus tests: topics, command producers, reply readers.

The tests drive the bus from the outside the way a caller would (produce
commands, read replies and dead letters), never through the bus's internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.kafka.config import KafkaBusConfig


def unique_prefix(name: str) -> str:
    return f"t.{name}.{uuid.uuid4().hex[:8]}"


async def create_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int = 3,
    topic_configs: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Create topics (``topic_configs``: name -> broker settings) and wait until every partition's leader serves.

    Right after creation a KRaft broker briefly answers NotLeaderForPartition;
    tests that time a drain must not start inside that window.
    """
    names = list(names)
    configs = topic_configs or {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [
            NewTopic(name, num_partitions=partitions, replication_factor=1, topic_configs=dict(configs.get(name, {})))
            for name in names
        ]
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(topics)
    finally:
        await admin.close()
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await probe.start()
    try:
        wanted = [TopicPartition(name, p) for name in names for p in range(partitions)]
        async with asyncio.timeout(30):
            while True:
                try:
                    await probe.end_offsets(wanted)
                    return
                except KafkaError:
                    await asyncio.sleep(0.1)
    finally:
        await probe.stop()


def bus_config(bootstrap: str, prefix: str, **overrides: Any) -> KafkaBusConfig:
    """A bus config with test-sized timeouts (fast rebalances, short polls)."""
    settings: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "consumer_group": f"{prefix}.hosts",
        "command_topic": f"{prefix}.cmd",
        "response_topic": f"{prefix}.evt",
        "session_timeout_ms": 6_000,
        "heartbeat_interval_ms": 500,
        "max_poll_interval_ms": 20_000,
        "request_timeout_ms": 5_000,
        "poll_timeout_ms": 100,
        "commit_interval_seconds": 0.2,
        "revoke_drain_timeout_seconds": 5,
        "startup_timeout_seconds": 20,
        "retry": {"max_attempts": 3, "initial_backoff_seconds": 0.05, "max_backoff_seconds": 0.2},
    }
    settings.update(overrides)
    return KafkaBusConfig.model_validate(settings)


async def bus_topics(config: KafkaBusConfig, partitions: int = 3, extra: Sequence[str] = ()) -> None:
    await create_topics(
        config.bootstrap_servers[0],
        [config.command_topic, config.reply_topic, config.effective_dead_letter_topic, *extra],
        partitions,
    )


class CommandProducer:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)

    async def __aenter__(self) -> CommandProducer:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def send(self, envelope: ModelOnexEnvelope, key: bytes | None = None) -> None:
        await self.send_raw(envelope.to_wire(), key=key if key is not None else str(envelope.correlation_id).encode())

    async def send_raw(self, value: bytes | None, key: bytes | None = None) -> None:
        await self._producer.send_and_wait(self.topic, value=value, key=key)

    async def send_many(self, envelopes: Sequence[ModelOnexEnvelope]) -> None:
        futures = [
            await self._producer.send(self.topic, value=e.to_wire(), key=str(e.correlation_id).encode())
            for e in envelopes
        ]
        await asyncio.gather(*futures)


@dataclass
class TopicReader:
    """Reads a topic from the beginning in the background (no consumer group)."""

    bootstrap: str
    topic: str
    isolation_level: str = "read_uncommitted"
    """``read_committed`` sees only committed transactions' records: what an exactly-once reader relies on."""
    records: list[ConsumerRecord] = field(default_factory=list)
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> TopicReader:
        self._consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            isolation_level=self.isolation_level,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=200)
            for records in batches.values():
                self.records.extend(records)
            if batches:
                self._arrived.set()

    async def wait_for(self, count: int, timeout: float) -> list[ConsumerRecord]:
        """Wait until at least ``count`` records arrived; raises ``TimeoutError`` with what did."""
        async with asyncio.timeout(timeout):
            while len(self.records) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return list(self.records)

    def envelopes(self) -> list[ModelOnexEnvelope]:
        return [ModelOnexEnvelope.from_wire(r.value) for r in self.records]

    def correlation_counts(self) -> Counter[uuid.UUID]:
        return Counter(e.correlation_id for e in self.envelopes())

    async def wait_for_correlations(self, wanted: set[uuid.UUID], timeout: float) -> Counter[uuid.UUID]:
        """Wait until every wanted correlation id has at least one reply; returns the counts."""
        try:
            async with asyncio.timeout(timeout):
                while not wanted <= set(self.correlation_counts()):
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            missing = len(wanted - set(self.correlation_counts()))
            raise AssertionError(f"{missing} of {len(wanted)} commands got no reply within {timeout}s") from None
        return self.correlation_counts()


@contextlib.asynccontextmanager
async def reading(bootstrap: str, topic: str, isolation_level: str = "read_uncommitted") -> AsyncIterator[TopicReader]:
    async with TopicReader(bootstrap, topic, isolation_level) as reader:
        yield reader


def headers_of(record: ConsumerRecord) -> dict[str, str]:
    return {name: value.decode() for name, value in record.headers or ()}
