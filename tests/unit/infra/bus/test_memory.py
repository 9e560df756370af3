"""Memory-bus behaviour beyond the shared suite (tests/contract/bus)."""

from __future__ import annotations

import asyncio

import pytest

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.factory import build_event_bus
from onex_host.infra.bus.memory import MemoryBusConfig, MemoryEventBus
from onex_host.infra.metrics import HostMetrics
from tests.support.builders.factories import command


async def test_a_stopped_bus_refuses_new_commands() -> None:
    bus = MemoryEventBus()
    await bus.stop(timeout_seconds=1)
    with pytest.raises(RuntimeError, match="stopping"):
        await bus.publish(command())
    assert bus.health().ready is False


async def test_a_failing_callback_does_not_stop_delivery() -> None:
    bus = MemoryEventBus(max_concurrent=1)
    calls = 0

    async def flaky(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        return envelope.reply_success({"ok": True})

    await bus.start(flaky)
    await bus.publish(command())
    await bus.publish(command())
    async with asyncio.timeout(5):
        reply = await bus.next_reply()
    assert reply.payload == {"ok": True}
    await bus.stop(timeout_seconds=1)


async def test_drain_gives_up_after_the_timeout() -> None:
    bus = MemoryEventBus(max_concurrent=1)
    release = asyncio.Event()

    async def stuck(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        await release.wait()
        return envelope.reply_success()

    await bus.start(stuck)
    await bus.publish(command())
    await asyncio.sleep(0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await bus.stop(timeout_seconds=0.2)
    assert loop.time() - started < 2
    assert bus.health().ready is False


@pytest.mark.parametrize("delivery", ["at_least_once", "exactly_once"])
async def test_the_memory_bus_honours_delivery_trivially_and_says_so(delivery: str) -> None:
    """Each envelope is taken off the queue once and answered once; health names the mode and why it holds."""
    bus = build_event_bus(
        MemoryBusConfig.model_validate({"delivery": delivery}), max_concurrent=4, metrics=HostMetrics()
    )
    assert isinstance(bus, MemoryEventBus)
    calls: list[ModelOnexEnvelope] = []

    async def answer(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        calls.append(envelope)
        return envelope.reply_success({})

    await bus.start(answer)
    requests = [command(payload={"i": i}) for i in range(50)]
    for request in requests:
        await bus.publish(request)
    replies = [await asyncio.wait_for(bus.next_reply(), 5) for _ in requests]
    await asyncio.sleep(0.05)
    details = bus.health().details
    await bus.stop(timeout_seconds=1)
    assert sorted(str(r.correlation_id) for r in replies) == sorted(str(r.correlation_id) for r in requests)
    assert len(calls) == len(requests), "an envelope was run twice"
    assert details["delivery"] == delivery
    assert "never redelivered" in str(details["delivery_note"])
