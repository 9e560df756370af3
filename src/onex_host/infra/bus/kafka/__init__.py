"""Apache Kafka event bus: at-least-once, bounded, drained on shutdown and rebalance.

Modules, in the order a record meets them: ``bus`` (lifecycle, the consume
loop and rebalance listener), ``dispatcher`` (per-key ordering, the
in-flight bound, revocable ownership), ``processing`` (one record: codec ->
runtime callback -> outcome -> sender), ``codec`` (bytes to envelopes,
dead-letter records), ``outcome`` (the pure reply / retry / dead-letter
decision), ``sender`` (produce until acknowledged, producer replacement,
oversize fallbacks; reports a result), ``offsets`` (what may be committed)
and ``committer`` (committing it, consumer lag). ``clients`` builds the
aiokafka clients and holds the one backoff; ``config`` is the contract's
``event_bus.config``; ``redrive`` replays dead letters.
"""

from onex_host.infra.bus.kafka.bus import KafkaEventBus
from onex_host.infra.bus.kafka.clients import KafkaUnavailableError
from onex_host.infra.bus.kafka.config import KafkaBusConfig

__all__ = ["KafkaBusConfig", "KafkaEventBus", "KafkaUnavailableError"]
