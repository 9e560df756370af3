"""In-memory event bus: the dependency-free ``ProtocolEventBus``.

Used by the embedded dev host and by unit tests, through the same protocol as
Kafka. Commands are queued in memory and lost on exit: it gives no durability.

``delivery`` is honoured trivially: an envelope is taken off the queue once
and answered once, and nothing is ever redelivered (there is no offset and
no second consumer), so ``exactly_once`` holds for every envelope that is
answered before the process exits, and ``at_least_once`` does not add
duplicates either. Health reports the delivery with that caveat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

from pydantic import Field

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.operation import ModelBusHealth
from onex_host.infra.bus.base import BusConfig, BusMode, Delivery, reply_destination
from onex_host.spi.event_bus import EnvelopeCallback

logger = logging.getLogger(__name__)

COMMANDS = "commands"
REPLIES = "replies"


MEMORY_DELIVERY_NOTE = "in-process: each envelope is delivered once and never redelivered; lost on exit"


class MemoryBusConfig(BusConfig):
    queue_size: int = Field(default=1000, ge=1)


class MemoryEventBus:
    """Bounded in-process queue feeding at most ``max_concurrent`` envelopes at once.

    ``publish`` to the command destination enqueues a command (waiting while
    the queue is full: backpressure, not unbounded buffering); replies are
    kept per destination and can be awaited with ``next_reply``. In shadow
    mode every reply goes to ``REPLIES``, whatever the request's ``reply_to``
    says, exactly as the Kafka bus does.
    """

    def __init__(
        self,
        max_concurrent: int = 100,
        queue_size: int = 1000,
        mode: BusMode = "primary",
        delivery: Delivery = "at_least_once",
    ) -> None:
        self.mode: BusMode = mode
        self.delivery: Delivery = delivery
        self._commands: asyncio.Queue[ModelOnexEnvelope] = asyncio.Queue(maxsize=queue_size)
        self._replies: defaultdict[str, asyncio.Queue[ModelOnexEnvelope]] = defaultdict(asyncio.Queue)
        self._slots = asyncio.Semaphore(max_concurrent)
        self._inflight: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._on_envelope: EnvelopeCallback | None = None
        self._stopping = False
        self._prepared = False

    async def prepare(self) -> None:
        """Nothing to connect: a prepared memory bus only queues commands until ``start``."""
        self._prepared = True

    async def start(self, on_envelope: EnvelopeCallback) -> None:
        if self._loop_task is not None:
            return
        self._on_envelope = on_envelope
        self._loop_task = asyncio.create_task(self._deliver_loop(), name="memory-bus-deliver")

    async def _deliver_loop(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                envelope = await self._commands.get()
            except asyncio.CancelledError:
                self._slots.release()
                raise
            task = asyncio.create_task(self._deliver(envelope))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _deliver(self, envelope: ModelOnexEnvelope) -> None:
        assert self._on_envelope is not None
        try:
            reply = await self._on_envelope(envelope)
            await self.publish(reply, reply_destination(envelope, mode=self.mode, default=REPLIES).topic)
        except Exception:
            logger.exception("memory bus delivery failed", extra={"correlation_id": str(envelope.correlation_id)})
        finally:
            self._slots.release()
            self._commands.task_done()

    async def publish(self, envelope: ModelOnexEnvelope, topic: str | None = None) -> None:
        destination = topic or (REPLIES if envelope.is_response else COMMANDS)
        if destination == COMMANDS:
            if self._stopping:
                raise RuntimeError("memory bus is stopping; command not accepted")
            await self._commands.put(envelope)
        else:
            self._replies[destination].put_nowait(envelope)

    async def next_reply(self, topic: str = REPLIES) -> ModelOnexEnvelope:
        """Wait for the next reply published to ``topic``; wrap in ``asyncio.timeout`` to bound it."""
        return await self._replies[topic].get()

    async def stop(self, timeout_seconds: float) -> None:
        """Stop taking commands, wait for queued and in-flight ones up to the timeout."""
        if self._stopping:
            return
        self._stopping = True
        if self._loop_task is None:
            return
        try:
            await asyncio.wait_for(self._commands.join(), timeout_seconds)
        except TimeoutError:
            logger.warning(
                "memory bus drain timed out", extra={"pending": self._commands.qsize(), "inflight": len(self._inflight)}
            )
        self._loop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._loop_task
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)

    def health(self) -> ModelBusHealth:
        running = self._loop_task is not None and not self._loop_task.done()
        standby = self._prepared and self._loop_task is None
        details: dict[str, object] = {
            "mode": self.mode,
            "delivery": self.delivery,
            "delivery_note": MEMORY_DELIVERY_NOTE,
            "queued": self._commands.qsize(),
            "inflight": len(self._inflight),
        }
        if standby:
            details["standby"] = True
        return ModelBusHealth(
            bus_type="memory",
            live=running or not self._stopping,
            # A prepared bus is ready for what it is asked to do: to be started (a standby host).
            ready=(running or standby) and not self._stopping,
            details=details,
        )
