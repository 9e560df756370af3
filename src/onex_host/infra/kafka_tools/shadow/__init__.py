"""Shadow comparison: does the new host answer like the legacy deployment?

``observed`` (a reply read off a topic), ``ignore`` and ``diff`` (field-level
comparison), ``comparator`` (pairing by correlation id within a window, the
match rate), ``report`` (table or JSON), ``reader`` (the two response topics
on Kafka), ``metrics`` (the ``--follow`` Prometheus export).
"""

from onex_host.infra.kafka_tools.shadow.comparator import ComparisonReport, Mismatch, Outcome, ReplyComparator
from onex_host.infra.kafka_tools.shadow.diff import DifferenceKind, FieldDifference, diff_fields
from onex_host.infra.kafka_tools.shadow.ignore import IgnoreRules
from onex_host.infra.kafka_tools.shadow.observed import ObservedReply, Side, decode_reply

__all__ = [
    "ComparisonReport",
    "DifferenceKind",
    "FieldDifference",
    "IgnoreRules",
    "Mismatch",
    "ObservedReply",
    "Outcome",
    "ReplyComparator",
    "Side",
    "decode_reply",
    "diff_fields",
]
