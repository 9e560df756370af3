"""``ProtocolEventBus``: the transport that feeds envelopes into the host."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.operation import ModelBusHealth

EnvelopeCallback = Callable[[ModelOnexEnvelope], Awaitable[ModelOnexEnvelope]]
"""What the bus calls for every envelope it delivers; returns the reply to publish."""


@runtime_checkable
class ProtocolEventBus(Protocol):
    """Delivers command envelopes to a callback and publishes the replies it returns.

    Contract for implementers:

    * ``prepare`` connects what delivery will need without taking a single
      envelope (Kafka: the producer is connected, no consumer group is
      joined), so a standby host is warm; ``start`` prepares first when
      ``prepare`` was not called. Both are idempotent.
    * ``start`` returns once delivery is running in the background; the bus,
      not the runtime, owns that loop.
    * Every delivered envelope's reply is published (to the request's
      ``metadata.reply_to`` when set, else the bus's response destination)
      before the envelope counts as done. A bus in shadow mode ignores
      ``reply_to``, which belongs to the primary deployment, and always
      answers on its own response destination.
    * ``stop`` stops taking new envelopes, waits for in-flight ones up to
      ``timeout_seconds``, records progress, and disconnects. Idempotent.
    """

    async def prepare(self) -> None: ...

    async def start(self, on_envelope: EnvelopeCallback) -> None: ...

    async def stop(self, timeout_seconds: float) -> None: ...

    async def publish(self, envelope: ModelOnexEnvelope, topic: str | None = None) -> None: ...

    def health(self) -> ModelBusHealth: ...
