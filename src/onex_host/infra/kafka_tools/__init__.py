"""The operator tools that work on a host's Kafka topics and groups, beside the host.

``topics`` (partitions of existing topics, never auto-creating one),
``redrive`` (dead letters back to their origin), ``shadow`` (does the new host
answer like the legacy deployment?) and ``handover`` (a consumer group's place
in a topic, given to another group). They share one error hierarchy
(``errors``: the CLI maps it to exit codes in one place, and aiokafka's
exceptions enter it only through ``map_kafka_errors``) and one retry policy
(``backoff``). The CLI uses them; the host imports only ``handover``, and
only when a standby host is promoted with a handover (``infra.promotion``):
the same checks, run by the warm process instead of a new one.
"""

from onex_host.infra.kafka_tools.errors import (
    BadToolInputError,
    BrokerUnreachableError,
    KafkaToolError,
    ToolRefusedError,
    UnknownTopicError,
    map_kafka_errors,
)

__all__ = [
    "BadToolInputError",
    "BrokerUnreachableError",
    "KafkaToolError",
    "ToolRefusedError",
    "UnknownTopicError",
    "map_kafka_errors",
]
