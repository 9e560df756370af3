"""Fault injection at the aiokafka boundary: the real clients on a real broker, with scripted failures.

``Faults`` holds a plan (operation -> exceptions to raise next) and builds
wrappers the bus takes through its ``build_consumer``/``build_producer``
seams. Everything not planned goes to the real ``AIOKafkaConsumer`` /
``AIOKafkaProducer``, so the broker, the group protocol and the offsets are
real. The wrappers also keep the evidence the invariant is checked against:
which command offsets were answered (a reply or a dead letter acknowledged
by the broker) at the moment each offset commit was sent.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from onex_host.infra.bus.kafka.clients import new_consumer, new_producer
from onex_host.infra.bus.kafka.codec import HEADER_ORIGIN_OFFSET, HEADER_ORIGIN_PARTITION
from onex_host.infra.bus.kafka.config import KafkaBusConfig

Operation = str  # "send", "commit", "getmany"
Fault = Callable[[], BaseException]


@dataclass
class Faults:
    """The plan and the evidence; one per test."""

    config: KafkaBusConfig
    plan: dict[Operation, list[Fault]] = field(default_factory=lambda: defaultdict(list))
    send_filter: Callable[[str], bool] = lambda _topic: True
    """Which topics a planned ``send`` fault applies to."""
    injected: list[tuple[Operation, str]] = field(default_factory=list)
    answered: set[tuple[int, int]] = field(default_factory=set)
    """(partition, offset) of commands whose reply or dead letter the broker acknowledged."""
    offsets_by_correlation: dict[str, tuple[int, int]] = field(default_factory=dict)
    commits: list[tuple[dict[TopicPartition, int], frozenset[tuple[int, int]]]] = field(default_factory=list)
    """Each commit sent: the positions, and what was answered at that moment."""

    def inject(self, operation: Operation, *faults: Fault) -> None:
        self.plan[operation].extend(faults)

    def _next(self, operation: Operation) -> BaseException | None:
        pending = self.plan.get(operation)
        if not pending:
            return None
        error = pending.pop(0)()
        self.injected.append((operation, type(error).__name__))
        return error

    def consumer(self, config: KafkaBusConfig, listener: ConsumerRebalanceListener) -> Any:
        return FaultyConsumer(new_consumer(config, listener), self)

    def producer(self) -> Any:
        return FaultyProducer(new_producer(self.config), self)

    def unanswered_below_commits(self, commands: set[tuple[int, int]]) -> list[tuple[int, int]]:
        """Commands a commit moved past although, at that moment, they had neither reply nor dead letter."""
        bad = []
        for positions, answered in self.commits:
            for tp, position in positions.items():
                bad += [c for c in commands if c[0] == tp.partition and c[1] < position and c not in answered]
        return sorted(set(bad))


class FaultyConsumer:
    def __init__(self, real: AIOKafkaConsumer, faults: Faults) -> None:
        self._real = real
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None) -> Any:
        error = self._faults._next("getmany")
        if error is not None:
            raise error
        return await self._real.getmany(*partitions, timeout_ms=timeout_ms, max_records=max_records)

    async def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        error = self._faults._next("commit")
        if error is not None:
            raise error
        self._faults.commits.append((dict(offsets or {}), frozenset(self._faults.answered)))
        await self._real.commit(offsets)


class FaultyProducer:
    def __init__(self, real: AIOKafkaProducer, faults: Faults) -> None:
        self._real = real
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None, headers: Any = None) -> Any:
        """The real ``send`` (enqueue, return the acknowledgement's future), after any planned fault."""
        if self._faults.send_filter(topic):
            error = self._faults._next("send")
            if error is not None:
                raise error
        acknowledged = await self._real.send(topic, value=value, key=key, headers=headers)

        def record(future: Any) -> None:
            if not future.cancelled() and future.exception() is None:
                self._record_answer(topic, value, headers or [])

        acknowledged.add_done_callback(record)
        return acknowledged

    async def send_and_wait(
        self, topic: str, value: bytes | None = None, key: bytes | None = None, headers: Any = None
    ) -> Any:
        return await (await self.send(topic, value=value, key=key, headers=headers))

    def _record_answer(self, topic: str, value: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        config = self._faults.config
        found = dict(headers)
        if topic == config.effective_dead_letter_topic and HEADER_ORIGIN_OFFSET in found:
            self._faults.answered.add((int(found[HEADER_ORIGIN_PARTITION]), int(found[HEADER_ORIGIN_OFFSET])))
        elif value is not None:
            correlation = json.loads(value).get("correlation_id")
            origin = self._faults.offsets_by_correlation.get(correlation)
            if origin is not None:
                self._faults.answered.add(origin)
