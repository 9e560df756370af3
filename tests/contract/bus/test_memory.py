"""The in-memory bus passes the event-bus suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.base import BusMode
from onex_host.infra.bus.memory import REPLIES, MemoryEventBus
from tests.contract.bus.base import EventBusSuite

MAX_CONCURRENT = 3


@dataclass
class MemoryHarness:
    bus: MemoryEventBus
    max_concurrent: int = MAX_CONCURRENT

    async def send(self, envelope: ModelOnexEnvelope) -> None:
        await self.bus.publish(envelope)

    async def next_reply(self, destination: str | None = None) -> ModelOnexEnvelope:
        return await self.bus.next_reply(destination or REPLIES)

    def reply_destination(self, name: str) -> str:
        return name


async def memory_harness(mode: BusMode) -> AsyncIterator[MemoryHarness]:
    bus = MemoryEventBus(max_concurrent=MAX_CONCURRENT, mode=mode)
    yield MemoryHarness(bus)
    await bus.stop(timeout_seconds=5)


class TestMemoryEventBus(EventBusSuite):
    @pytest.fixture
    async def bus_harness(self) -> AsyncIterator[MemoryHarness]:
        async for harness in memory_harness("primary"):
            yield harness

    @pytest.fixture
    async def shadow_bus_harness(self) -> AsyncIterator[MemoryHarness]:
        async for harness in memory_harness("shadow"):
            yield harness
