"""Test doubles at the aiokafka boundary: producers that fail on a script, for tests without a broker.

``Producers`` is passed as ``KafkaSender(build_producer=...)``; every
(re)start of the sender's producer builds the next ``ScriptedProducer``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError

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

    async def send(
        self, topic: str, *, value: bytes | None, key: bytes | None, headers: Any = None
    ) -> asyncio.Future[None]:
        """As aiokafka's: enqueue and return the acknowledgement's future (here already acknowledged)."""
        error = self._step(topic, key, value)
        if error is not None:
            raise error
        self.sent.append((topic, key, value, list(headers or [])))
        acknowledged: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged

    async def send_and_wait(self, topic: str, *, value: bytes | None, key: bytes | None, headers: Any = None) -> None:
        await (await self.send(topic, value=value, key=key, headers=headers))


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
