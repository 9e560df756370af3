"""Apache Kafka event bus: at-least-once, bounded, drained on shutdown and rebalance.

Modules: ``config`` (the contract's ``event_bus.config``), ``codec`` (bytes to
envelopes, dead-letter records), ``offsets`` (what may be committed),
``dispatcher`` (per-key ordering, the in-flight bound, revocable ownership),
``bus`` (the consume loop and rebalance listener), ``redrive`` (replaying
dead letters).
"""

from onex_host.infra.bus.kafka.bus import KafkaEventBus, KafkaUnavailableError
from onex_host.infra.bus.kafka.config import KafkaBusConfig

__all__ = ["KafkaBusConfig", "KafkaEventBus", "KafkaUnavailableError"]
