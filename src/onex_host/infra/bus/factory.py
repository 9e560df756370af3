"""Chooses the event bus a runtime host contract asks for.

Parsing and building are two steps because the host needs the typed bus
config (its ``mode``) before the bus exists: the mode labels the metrics the
bus is built with and decides whether the runtime is a shadow one.

The Kafka bus is imported only when a contract asks for it, so a memory-bus
host never loads aiokafka.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from onex_host.core.contracts import ModelEventBusConfig
from onex_host.core.loader import validate_model
from onex_host.infra.bus.base import BusConfig
from onex_host.infra.bus.memory import MemoryBusConfig, MemoryEventBus
from onex_host.infra.metrics import HostMetrics
from onex_host.spi.event_bus import ProtocolEventBus

if TYPE_CHECKING:
    from onex_host.infra.bus.kafka.config import KafkaBusConfig


def parse_event_bus_config(config: ModelEventBusConfig, *, source: str) -> MemoryBusConfig | KafkaBusConfig:
    """The typed ``event_bus.config``; raises ``ContractError`` naming every bad field."""
    if config.type == "memory":
        return validate_model(MemoryBusConfig, config.config, source, prefix="event_bus.config")
    if config.type == "kafka":
        from onex_host.infra.bus.kafka.config import KafkaBusConfig

        return validate_model(KafkaBusConfig, config.config, source, prefix="event_bus.config")
    raise NotImplementedError(f"event bus type {config.type!r}")


def build_event_bus(config: BusConfig, *, max_concurrent: int, metrics: HostMetrics) -> ProtocolEventBus:
    """Build (but do not start) the bus a parsed config describes."""
    if isinstance(config, MemoryBusConfig):
        return MemoryEventBus(
            max_concurrent=max_concurrent, queue_size=config.queue_size, mode=config.mode, delivery=config.delivery
        )
    from onex_host.infra.bus.kafka import KafkaBusConfig, KafkaEventBus

    if isinstance(config, KafkaBusConfig):
        return KafkaEventBus(config, max_concurrent=max_concurrent, metrics=metrics)
    raise NotImplementedError(f"event bus config {type(config).__name__}")
