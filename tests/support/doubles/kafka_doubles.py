"""Test doubles at the aiokafka boundary: producers that fail on a script, for tests without a broker.

``Producers`` is passed as ``KafkaSender(build_producer=...)``; every
(re)start of the sender's producer builds the next ``ScriptedProducer``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError, ProducerFenced

Step = Callable[[str, bytes | None, bytes | None], BaseException | None]
"""Decides one ``send_and_wait``: an exception to raise, or ``None`` to acknowledge."""


class ScriptedProducer:
    def __init__(self, step: Step, *, start_error: BaseException | None = None) -> None:
        self._step = step
        self._start_error = start_error
        self.sent: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
        self.stopped = False

    async def start(self) -> None:
        if self._start_error is not None:
            raise self._start_error

    async def stop(self) -> None:
        self.stopped = True

    async def send_and_wait(self, topic: str, *, value: bytes | None, key: bytes | None, headers: Any = None) -> None:
        error = self._step(topic, key, value)
        if error is not None:
            raise error
        self.sent.append((topic, key, value, list(headers or [])))


class Producers:
    """Builds a ``ScriptedProducer`` per call, as the sender builds one per (re)start."""

    def __init__(self, step: Step, *, start_errors: list[BaseException | None] | None = None) -> None:
        self._step = step
        self._start_errors = start_errors or []
        self.built: list[ScriptedProducer] = []

    def __call__(self) -> Any:
        start_error = self._start_errors[len(self.built)] if len(self.built) < len(self._start_errors) else None
        producer = ScriptedProducer(self._step, start_error=start_error)
        self.built.append(producer)
        return producer

    @property
    def delivered(self) -> list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]]:
        return [record for producer in self.built for record in producer.sent]


def failing(*errors: BaseException) -> Step:
    """Raise ``errors`` on the first sends, then acknowledge everything."""
    pending = list(errors)
    return lambda _topic, _key, _value: pending.pop(0) if pending else None


def too_large_when(predicate: Callable[[bytes | None], bool]) -> Step:
    return lambda _topic, _key, value: MessageSizeTooLargeError() if predicate(value) else None


class GroupOffsets:
    """The broker side of exactly-once for unit tests: committed offsets, and the transactional id's epoch."""

    def __init__(self) -> None:
        self.committed: dict[Any, int] = {}
        self.epochs: dict[str, int] = {}
        self.transactions: list[tuple[list[tuple[str, bytes | None, bytes | None]], dict[Any, int]]] = []
        """Every committed transaction: its records and the offsets it committed."""

    async def committed_offset(self, tp: Any) -> int | None:
        return self.committed.get(tp)

    @property
    def records(self) -> list[tuple[str, bytes | None, bytes | None]]:
        return [record for records, _offsets in self.transactions for record in records]


class ScriptedTransactionalProducer:
    """A transactional producer: ``step`` decides each send; ``commit_step`` each commit (an error to raise,
    ``"hang"`` to never return). Starting it fences the previous producer of the same id, as the broker does."""

    def __init__(
        self,
        transactional_id: str,
        group: GroupOffsets,
        step: Step,
        commit_step: Callable[[], BaseException | str | None],
    ) -> None:
        self.transactional_id = transactional_id
        self._group = group
        self._step = step
        self._commit_step = commit_step
        self._epoch = -1
        self._open: list[tuple[str, bytes | None, bytes | None]] | None = None
        self._offsets: dict[Any, int] = {}
        self.stopped = False
        self.aborts = 0

    def _check_epoch(self) -> None:
        if self._group.epochs.get(self.transactional_id) != self._epoch:
            raise ProducerFenced()

    async def start(self) -> None:
        self._epoch = self._group.epochs.get(self.transactional_id, 0) + 1
        self._group.epochs[self.transactional_id] = self._epoch

    async def stop(self) -> None:
        self.stopped = True

    async def begin_transaction(self) -> None:
        self._check_epoch()
        assert self._open is None, "begin_transaction inside a transaction"
        self._open, self._offsets = [], {}

    async def send(self, topic: str, *, value: bytes | None, key: bytes | None, headers: Any = None) -> Any:
        assert self._open is not None, "send outside a transaction"
        future: Any = asyncio.get_running_loop().create_future()
        error = self._step(topic, key, value)
        if error is not None:
            future.set_exception(error)
        else:
            self._open.append((topic, key, value))
            future.set_result(None)
        return future

    async def send_offsets_to_transaction(self, offsets: dict[Any, int], group_id: str) -> None:
        assert self._open is not None
        self._offsets.update(offsets)

    async def commit_transaction(self) -> None:
        self._check_epoch()
        assert self._open is not None
        outcome = self._commit_step()
        if outcome == "hang":
            await asyncio.Event().wait()
        if isinstance(outcome, BaseException):
            raise outcome
        self._group.transactions.append((self._open, dict(self._offsets)))
        self._group.committed.update(self._offsets)
        self._open = None

    async def abort_transaction(self) -> None:
        self._check_epoch()
        self.aborts += 1
        self._open = None


class TransactionalProducers:
    """Builds a ``ScriptedTransactionalProducer`` per (transactional id, start), as the outbox does."""

    def __init__(
        self,
        group: GroupOffsets,
        step: Step | None = None,
        commit_step: Callable[[], BaseException | str | None] | None = None,
    ) -> None:
        self._group = group
        self._step: Step = step or (lambda _topic, _key, _value: None)
        self._commit_step = commit_step or (lambda: None)
        self.built: list[ScriptedTransactionalProducer] = []

    def __call__(self, transactional_id: str) -> Any:
        producer = ScriptedTransactionalProducer(transactional_id, self._group, self._step, self._commit_step)
        self.built.append(producer)
        return producer
