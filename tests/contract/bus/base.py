"""One behavioural suite every ``ProtocolEventBus`` passes, memory and Kafka alike.

Written once, FastStream's way (``tests/brokers/base``): a test class is this
suite mixed with one bus's configuration, which provides two fixtures,
``bus_harness`` (a primary-mode bus) and ``shadow_bus_harness`` (the same
bus in shadow mode). A new bus gets every check here for free.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

import pytest

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.base import BusMode
from onex_host.runtime.node_runtime import NodeRuntime
from onex_host.spi.event_bus import ProtocolEventBus
from tests.support.builders.factories import command, echo_runtime


class ModedBus(ProtocolEventBus, Protocol):
    @property
    def mode(self) -> BusMode: ...


class BusHarness(Protocol):
    """How the suite drives one bus: send a command, read a reply from a destination."""

    bus: ModedBus
    max_concurrent: int

    async def send(self, envelope: ModelOnexEnvelope) -> None: ...

    async def next_reply(self, destination: str | None = None) -> ModelOnexEnvelope:
        """The next reply on ``destination``; ``None``: the bus's own response destination for its mode."""
        ...

    def reply_destination(self, name: str) -> str: ...


REPLY_TIMEOUT_S = 20.0
SILENCE_S = 1.0
"""How long a destination must stay empty to count as never written: well above a local broker's produce latency."""


class EventBusSuite:
    @pytest.fixture
    async def runtime(self) -> AsyncIterator[NodeRuntime]:
        runtime = await echo_runtime("echo", "other")
        yield runtime
        await runtime.shutdown()

    async def _reply(
        self, harness: BusHarness, destination: str | None = None, timeout: float = REPLY_TIMEOUT_S
    ) -> ModelOnexEnvelope:
        async with asyncio.timeout(timeout):
            return await harness.next_reply(destination)

    async def test_a_command_is_routed_and_its_reply_published(
        self, bus_harness: BusHarness, runtime: NodeRuntime
    ) -> None:
        await bus_harness.bus.start(runtime.route_envelope)
        request = command(payload={"n": 1})
        await bus_harness.send(request)
        reply = await self._reply(bus_harness)
        assert reply.success is True
        assert reply.payload == {"n": 1}
        assert reply.correlation_id == request.correlation_id
        assert reply.causation_id == request.envelope_id

    async def test_a_prepared_bus_delivers_nothing_until_started(
        self, bus_harness: BusHarness, runtime: NodeRuntime
    ) -> None:
        """A standby host's bus: connected, reporting ``standby``, consuming nothing; ``start`` then delivers."""
        await bus_harness.bus.prepare()
        request = command(payload={"n": "queued in standby"})
        await bus_harness.send(request)
        with pytest.raises(TimeoutError):
            await self._reply(bus_harness, timeout=SILENCE_S)
        standby = bus_harness.bus.health()
        assert (standby.live, standby.ready, standby.details.get("standby")) == (True, True, True)
        await bus_harness.bus.start(runtime.route_envelope)
        reply = await self._reply(bus_harness)
        assert reply.correlation_id == request.correlation_id
        assert "standby" not in bus_harness.bus.health().details

    async def test_reply_to_in_metadata_redirects_the_reply(
        self, bus_harness: BusHarness, runtime: NodeRuntime
    ) -> None:
        await bus_harness.bus.start(runtime.route_envelope)
        destination = bus_harness.reply_destination("private-replies")
        request = command(metadata={"reply_to": destination})
        await bus_harness.send(request)
        reply = await self._reply(bus_harness, destination)
        assert reply.correlation_id == request.correlation_id

    async def test_a_shadow_bus_never_replies_to_reply_to_only_to_its_own_destination(
        self, shadow_bus_harness: BusHarness, runtime: NodeRuntime
    ) -> None:
        # reply_to names the primary deployment's caller: a shadow answering there would answer twice.
        harness = shadow_bus_harness
        assert harness.bus.mode == "shadow"
        await harness.bus.start(runtime.route_envelope)
        private = harness.reply_destination("private-replies")
        request = command(metadata={"reply_to": private})
        await harness.send(request)
        reply = await self._reply(harness)
        assert reply.correlation_id == request.correlation_id
        with pytest.raises(TimeoutError):
            await self._reply(harness, private, timeout=SILENCE_S)

    async def test_routing_errors_are_replied_not_dropped(self, bus_harness: BusHarness, runtime: NodeRuntime) -> None:
        await bus_harness.bus.start(runtime.route_envelope)
        await bus_harness.send(command(target="nobody"))
        reply = await self._reply(bus_harness)
        assert reply.success is False
        assert reply.error_code == "unknown_node"

    async def test_in_flight_never_exceeds_the_bound(self, bus_harness: BusHarness, runtime: NodeRuntime) -> None:
        inflight = peak = 0

        async def counting(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
            nonlocal inflight, peak
            inflight += 1
            peak = max(peak, inflight)
            try:
                return await runtime.route_envelope(envelope)
            finally:
                inflight -= 1

        await bus_harness.bus.start(counting)
        total = bus_harness.max_concurrent * 3
        for i in range(total):
            await bus_harness.send(command(operation="sleep", payload={"seconds": 0.05, "echo": {"i": i}}))
        replies = [await self._reply(bus_harness) for _ in range(total)]
        assert sorted(r.payload["i"] for r in replies) == list(range(total))
        assert 1 <= peak <= bus_harness.max_concurrent

    async def test_stop_drains_in_flight_work(self, bus_harness: BusHarness, runtime: NodeRuntime) -> None:
        await bus_harness.bus.start(runtime.route_envelope)
        count = 5
        for i in range(count):
            await bus_harness.send(command(operation="sleep", payload={"seconds": 0.3, "echo": {"i": i}}))
        await asyncio.sleep(0.5 if bus_harness.bus.health().bus_type == "kafka" else 0.05)
        await bus_harness.bus.stop(timeout_seconds=10)
        replies = [await self._reply(bus_harness) for _ in range(count)]
        assert sorted(r.payload["i"] for r in replies) == list(range(count))

    async def test_health_reports_ready_while_running(self, bus_harness: BusHarness, runtime: NodeRuntime) -> None:
        await bus_harness.bus.start(runtime.route_envelope)
        await bus_harness.send(command())
        await self._reply(bus_harness)
        health = bus_harness.bus.health()
        assert health.live is True
        assert health.ready is True
        assert health.details["mode"] == bus_harness.bus.mode == "primary"
