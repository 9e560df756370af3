"""Chooses the event bus a runtime host contract asks for.

The Kafka bus is imported only when a contract asks for it, so a memory-bus
host never loads aiokafka.
"""

from __future__ import annotations

from onex_host.core.contracts import ModelEventBusConfig
from onex_host.core.loader import validate_model
from onex_host.infra.bus.memory import MemoryBusConfig, MemoryEventBus
from onex_host.infra.metrics import HostMetrics
from onex_host.spi.event_bus import ProtocolEventBus


def build_event_bus(
    config: ModelEventBusConfig, *, max_concurrent: int, metrics: HostMetrics, source: str
) -> ProtocolEventBus:
    """Build (but do not start) the bus; raises ``ContractError`` for a bad ``event_bus.config``."""
    if config.type == "memory":
        memory = validate_model(MemoryBusConfig, config.config, source, prefix="event_bus.config")
        return MemoryEventBus(max_concurrent=max_concurrent, queue_size=memory.queue_size)
    if config.type == "kafka":
        from onex_host.infra.bus.kafka import KafkaBusConfig, KafkaEventBus

        kafka = validate_model(KafkaBusConfig, config.config, source, prefix="event_bus.config")
        return KafkaEventBus(kafka, max_concurrent=max_concurrent, metrics=metrics)
    raise NotImplementedError(f"event bus type {config.type!r}")
