"""``asyncio.timeout`` for many concurrent waits of one length, at the cost of a set insert each.

Every reply the sender produces is bounded (``sender``: a send racing the
replacement of its producer can otherwise wait forever on a closed client).
``asyncio.timeout`` arms a timer per wait: a ``TimerHandle`` pushed onto the
event loop's heap and cancelled again a few milliseconds later, for every
reply. At the host's rate that was 8 us of its ~60 us per command
(``bench/profiles/hot_path.py``, A/B in ``bench/README.md``), for a bound
that in practice never fires.

``CoarseDeadlines`` keeps the waits in progress in a set and checks them
with one timer every ``resolution`` seconds, armed only while a wait is in
progress; ``bounded`` costs one coroutine and a set insert. A wait that overran is cancelled the way ``asyncio.timeout``
cancels it, and its block raises ``TimeoutError``; one cancelled from
outside still raises ``CancelledError``. The bound is therefore between
``seconds`` and ``seconds + resolution``: meant for bounds of tens of
seconds, not for latency.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class CoarseDeadlines:
    """Bounds waits to ``seconds`` (plus up to ``resolution``): ``await deadlines.bounded(something())``."""

    def __init__(self, seconds: float, resolution: float = 1.0) -> None:
        if seconds <= 0 or resolution <= 0:
            raise ValueError("seconds and resolution must be positive")
        self.seconds = seconds
        self.resolution = resolution
        self._waits: set[Wait] = set()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def in_progress(self) -> int:
        return len(self._waits)

    async def bounded(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable``; ``TimeoutError`` if it outlasts the bound (it is cancelled then)."""
        wait = self._enter()
        try:
            return await awaitable
        except asyncio.CancelledError:
            if wait.expired and wait.task.uncancel() <= wait.cancelling:
                raise TimeoutError(f"outlasted its bound of {self.seconds:g} s") from None
            raise
        finally:
            self._waits.discard(wait)

    def _enter(self) -> Wait:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("CoarseDeadlines.bounded() must be awaited inside a task")
        loop = asyncio.get_running_loop()
        wait = Wait(task, loop.time() + self.seconds)
        self._waits.add(wait)
        if self._timer is None:
            self._timer = loop.call_later(self.resolution, self._sweep)
        return wait

    def _sweep(self) -> None:
        self._timer = None
        self._sweep_at(asyncio.get_running_loop().time())

    def _sweep_at(self, now: float) -> None:
        for wait in [wait for wait in self._waits if wait.deadline <= now]:
            self._waits.discard(wait)
            wait.expired = True
            wait.task.cancel()
        if self._waits:
            self._timer = asyncio.get_running_loop().call_later(self.resolution, self._sweep)


class Wait:
    """One bounded wait; ``cancelling`` mirrors ``asyncio.timeouts.Timeout``: outer cancellations stay outer."""

    __slots__ = ("cancelling", "deadline", "expired", "task")

    def __init__(self, task: asyncio.Task[object], deadline: float) -> None:
        self.task = task
        self.deadline = deadline
        self.cancelling = task.cancelling()
        self.expired = False
