"""The envelope: the one message shape every node, handler and bus exchanges.

Wire form is ``model_dump(mode="json")`` as UTF-8 JSON; ``to_wire``/``from_wire``
produce and read exactly that, so UUIDs and timezone-aware timestamps survive a
round trip unchanged.

``to_wire`` encodes with orjson when the envelope holds only what both
encoders write the same way (payload and metadata of plain dicts with string
keys, lists, strings, numbers, booleans and nulls; a timestamp offset in whole
minutes), which is every reply the host builds: about half the cost of
``model_dump_json``, the same bytes (a hypothesis test compares them).
Anything else goes through pydantic, as before.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from onex_host.core.enums import EnumErrorCode, EnumHandlerType
from onex_host.core.ids import uuid4
from onex_host.core.scrubbing import scrub, scrub_value

RUNTIME_HOST_SOURCE = "runtime_host"

MAX_TTL_SECONDS = 7 * 24 * 3600
"""The longest TTL an envelope may carry (7 days): finite, so deadline arithmetic cannot overflow."""

MAX_CLOCK_AHEAD_SECONDS = 3600
"""How far ahead of the host's clock a timestamp may be. A later one is refused: it would stretch the
envelope's TTL at will, and at the far end (9999-12-31) overflow the deadline arithmetic."""


def utc_now() -> datetime:
    return datetime.now(UTC)


_PLAIN_SCALARS = frozenset({str, int, float, bool, type(None)})
_ORJSON_OPTIONS = orjson.OPT_UTC_Z


def _plain_json(*values: dict[str, Any]) -> bool:
    """Only exact dicts (string keys), lists and JSON scalars: what orjson and pydantic encode alike."""
    stack: list[Any] = list(values)
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is dict:
            for key in node:
                if type(key) is not str:
                    return False
            stack.extend(node.values())
        elif kind is list:
            stack.extend(node)
        elif kind not in _PLAIN_SCALARS:
            return False
    return True


class ModelOnexEnvelope(BaseModel):
    """Unified message envelope for Runtime Host communication."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    envelope_id: UUID = Field(default_factory=uuid4)
    envelope_version: str = "1.0.0"

    correlation_id: UUID = Field(default_factory=uuid4)
    causation_id: UUID | None = None

    source_node: str = Field(min_length=1)
    target_node: str | None = Field(
        default=None, description="Target node slug; None broadcasts to every node declaring the operation."
    )
    handler_type: EnumHandlerType
    operation: str = Field(min_length=1)

    payload: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    timestamp: AwareDatetime = Field(default_factory=utc_now)
    ttl_seconds: float | None = Field(default=None, gt=0, le=MAX_TTL_SECONDS, allow_inf_nan=False)

    is_response: bool = False
    success: bool | None = None
    error: str | None = None
    error_code: EnumErrorCode | None = None

    @field_validator("payload", "metadata")
    @classmethod
    def _finite_numbers(cls, value: dict[str, Any]) -> dict[str, Any]:
        """NaN and Infinity are not JSON: accepted on the way in, they would leave as ``null``, a different value."""
        stack: list[Any] = [value]
        while stack:
            node = stack.pop()
            if isinstance(node, float) and not math.isfinite(node):
                raise ValueError("holds NaN or Infinity, which JSON cannot carry")
            if isinstance(node, dict):
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
        return value

    @field_validator("timestamp")
    @classmethod
    def _not_far_ahead(cls, timestamp: datetime) -> datetime:
        # In POSIX seconds, not datetimes: aware-datetime arithmetic cost 1.5 us of every envelope built, this 0.5.
        if timestamp.timestamp() - time.time() > MAX_CLOCK_AHEAD_SECONDS:
            raise ValueError(f"is more than {MAX_CLOCK_AHEAD_SECONDS} s ahead of this host's clock")
        return timestamp

    # -- wire form -----------------------------------------------------------------

    def to_wire(self) -> bytes:
        fast = self._plain_wire()
        return fast if fast is not None else self.model_dump_json().encode()

    def _plain_wire(self) -> bytes | None:
        """The wire bytes through orjson, or ``None`` when the envelope holds anything unusual (see above)."""
        offset = self.timestamp.utcoffset()
        if (
            type(self) is not ModelOnexEnvelope
            or offset is None
            or offset.seconds % 60
            or offset.microseconds
            or type(self.ttl_seconds) not in (float, type(None))
            or not _plain_json(self.payload, self.metadata)
        ):
            return None
        try:
            return orjson.dumps(
                {
                    "envelope_id": self.envelope_id,
                    "envelope_version": self.envelope_version,
                    "correlation_id": self.correlation_id,
                    "causation_id": self.causation_id,
                    "source_node": self.source_node,
                    "target_node": self.target_node,
                    "handler_type": self.handler_type,
                    "operation": self.operation,
                    "payload": self.payload,
                    "metadata": self.metadata,
                    "timestamp": self.timestamp,
                    "ttl_seconds": self.ttl_seconds,
                    "is_response": self.is_response,
                    "success": self.success,
                    "error": self.error,
                    "error_code": self.error_code,
                },
                option=_ORJSON_OPTIONS,
            )
        except orjson.JSONEncodeError:  # beyond orjson's bounds (a 65-bit integer, nesting past 255): pydantic's call
            return None

    @classmethod
    def from_wire(cls, data: bytes | str) -> ModelOnexEnvelope:
        return cls.model_validate_json(data)

    # -- time ----------------------------------------------------------------------

    @property
    def expires_at(self) -> datetime | None:
        if self.ttl_seconds is None:
            return None
        return self.timestamp + timedelta(seconds=self.ttl_seconds)

    def remaining_seconds(self, now: datetime | None = None) -> float | None:
        """Seconds left before the TTL runs out (negative once expired); None without a TTL."""
        expires_at = self.expires_at
        if expires_at is None:
            return None
        return (expires_at - (now or utc_now())).total_seconds()

    def is_expired(self, now: datetime | None = None) -> bool:
        remaining = self.remaining_seconds(now)
        return remaining is not None and remaining <= 0

    # -- replies: the only place reply envelopes are built -------------------------

    def _reply(self, **fields: Any) -> ModelOnexEnvelope:
        return ModelOnexEnvelope(
            correlation_id=self.correlation_id,
            causation_id=self.envelope_id,
            source_node=self.target_node or RUNTIME_HOST_SOURCE,
            target_node=self.source_node,
            handler_type=self.handler_type,
            operation=self.operation,
            is_response=True,
            **fields,
        )

    def reply_success(self, payload: dict[str, Any] | None = None) -> ModelOnexEnvelope:
        return self._reply(payload=payload or {}, success=True)

    def reply_error(
        self, code: EnumErrorCode, message: str, details: dict[str, Any] | None = None
    ) -> ModelOnexEnvelope:
        """An error reply; its text and details pass the scrubber, since they often quote a client library."""
        return self._reply(payload=scrub_value(details or {}), success=False, error=scrub(message), error_code=code)
