"""A reply read from a response topic, reduced to what the comparison needs.

Replies are compared as JSON documents, not as ``ModelOnexEnvelope``: a
legacy node may stamp fields the envelope model forbids, and a reply the
model would reject must still be reported as different, not dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from onex_host.core.enums import EnumErrorCode


class Side(StrEnum):
    LEGACY = "legacy"
    SHADOW = "shadow"

    @property
    def other(self) -> Side:
        return Side.SHADOW if self is Side.LEGACY else Side.LEGACY


@dataclass(frozen=True)
class ObservedReply:
    """One reply; ``arrived_at`` is on the comparator's clock, ``replied_at`` is epoch seconds."""

    side: Side
    correlation_id: str
    document: dict[str, Any]
    arrived_at: float
    replied_at: float

    @property
    def shadow_skipped(self) -> bool:
        return self.document.get("error_code") == EnumErrorCode.SHADOW_SKIPPED.value


def decode_reply(
    side: Side, value: bytes | None, key: bytes | None, *, arrived_at: float, record_timestamp_ms: int
) -> ObservedReply | None:
    """The reply in a record, or None when it is not a JSON object carrying a correlation id.

    The correlation id comes from the document, else from the record key
    (replies are keyed by correlation id). ``replied_at`` is the reply's own
    ``timestamp`` when it has a readable one, else the record's timestamp.
    """
    if value is None:
        return None
    try:
        document = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(document, dict):
        return None
    correlation_id = document.get("correlation_id")
    if not isinstance(correlation_id, str) or not correlation_id:
        correlation_id = key.decode(errors="replace") if key else None
    if not correlation_id:
        return None
    return ObservedReply(
        side=side,
        correlation_id=correlation_id,
        document=document,
        arrived_at=arrived_at,
        replied_at=_reply_time(document.get("timestamp")) or record_timestamp_ms / 1000.0,
    )


def _reply_time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        stamped = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamped.timestamp() if stamped.tzinfo is not None else None
