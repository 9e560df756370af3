"""A stand-in for one container of the legacy one-container-per-node deployment.

It is what such a container does on the bus, written with plain aiokafka:
consume the command topic in the legacy consumer group, answer each command
on the response topic the way the old node did (echo the payload, or a fixed
payload per operation), and commit only after the replies are published.
Replies carry the header ``answered-by: legacy`` so a cutover test can tell
who answered without changing the reply document a shadow comparison sees.
``stop`` is a graceful stop: stop fetching, publish what was fetched, commit,
leave the group; exactly what the runbook's "pause legacy" step asks of it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from onex_host.core.envelope import ModelOnexEnvelope

ANSWERED_BY = "answered-by"
LegacyBehaviour = Callable[[ModelOnexEnvelope], dict[str, Any]]


def echo(envelope: ModelOnexEnvelope) -> dict[str, Any]:
    return envelope.payload


class LegacyNode:
    def __init__(
        self,
        bootstrap: str,
        *,
        group: str,
        command_topic: str,
        response_topic: str,
        answers: Mapping[str, LegacyBehaviour] | None = None,
    ) -> None:
        self.group = group
        self.command_topic = command_topic
        self.response_topic = response_topic
        self.answered = 0
        self._answers = dict(answers or {})
        self._consumer = AIOKafkaConsumer(
            command_topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=6_000,
            heartbeat_interval_ms=500,
        )
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.assigned = asyncio.Event()

    async def start(self) -> None:
        await self._producer.start()
        await self._consumer.start()
        self._task = asyncio.create_task(self._serve(), name=f"legacy-{self.group}")

    async def wait_assigned(self, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while not self._consumer.assignment():
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Graceful: the batch in hand is answered and committed, then the group is left."""
        self._stopping.set()
        if self._task is not None:
            await self._task
        await self._consumer.stop()
        await self._producer.stop()

    async def kill(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()
        await self._producer.stop()

    async def _serve(self) -> None:
        while not self._stopping.is_set():
            batches = await self._consumer.getmany(timeout_ms=100, max_records=500)
            sent = [
                await self._producer.send(
                    self.response_topic,
                    self._answer(record.value),
                    key=record.key,
                    headers=[(ANSWERED_BY, b"legacy")],
                )
                for records in batches.values()
                for record in records
                if record.value is not None
            ]
            if sent:
                await asyncio.gather(*sent)
                await self._consumer.commit()
                self.answered += len(sent)

    def _answer(self, value: bytes) -> bytes:
        request = ModelOnexEnvelope.from_wire(value)
        behaviour = self._answers.get(request.operation, echo)
        return request.reply_success(behaviour(request)).to_wire()
