"""Bytes on the command topic to envelopes, and poison records to dead letters.

Pure functions, no I/O: the consume loop hands a record's bytes to
``decode_command`` and gets either an envelope or a ``DecodeFailure`` that
says why, so a malformed message is dead-lettered with its reason instead of
crashing or stalling its partition. ``dead_letter`` builds the DLQ record:
the original key and bytes untouched, the reason and origin in headers, which
is what ``onex-host dlq redrive`` reads back.

Bounded input: nothing that arrives on the command topic can raise past
``decode_command``. JSON is parsed by pydantic-core (jiter), which refuses
nesting deeper than ``MAX_JSON_DEPTH`` and numbers beyond a float's range or
Python's integer-digit limit; those, and anything else that goes wrong while
diagnosing a record, are dead-lettered as ``undecodable`` with the reason.
TTLs and timestamps are bounded by the envelope model itself (finite, at most
``MAX_TTL_SECONDS``, at most ``MAX_CLOCK_AHEAD_SECONDS`` ahead).
The text the host writes into dead-letter headers passes ``core.scrubbing``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from pydantic_core import from_json

from onex_host.core.enums import EnumErrorCode, EnumHandlerType
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.immutable import immutable
from onex_host.core.loader import describe_error, format_location
from onex_host.core.scrubbing import scrub

Headers = Sequence[tuple[str, bytes]]

DLQ_HEADER_PREFIX = "onex.dlq."
HEADER_REASON = "onex.dlq.reason"
HEADER_DETAIL = "onex.dlq.detail"
HEADER_ERROR_CODE = "onex.dlq.error_code"
HEADER_ORIGIN_TOPIC = "onex.dlq.origin_topic"
HEADER_ORIGIN_PARTITION = "onex.dlq.origin_partition"
HEADER_ORIGIN_OFFSET = "onex.dlq.origin_offset"
HEADER_ATTEMPTS = "onex.dlq.attempts"
HEADER_DEAD_LETTERED_AT = "onex.dlq.dead_lettered_at"
HEADER_REDRIVEN_FROM = "onex.redriven_from"

_MAX_DETAIL_CHARS = 1_000
MAX_JSON_DEPTH = 200
"""pydantic-core's nesting limit: deeper documents are refused before any recursion in Python."""
_PARSER_LIMITS = ("recursion limit exceeded", "number out of range")
_ENVELOPE_REQUIRED = ("source_node", "handler_type", "operation")


class DeadLetterReason(StrEnum):
    """Why a record went to the dead-letter topic (``onex.dlq.reason`` header, metric label)."""

    NOT_JSON = "not_json"
    NOT_AN_ENVELOPE = "not_an_envelope"
    INVALID_ENVELOPE = "invalid_envelope"
    OVERSIZED = "oversized"
    NOT_A_COMMAND = "not_a_command"
    UNKNOWN_NODE = "unknown_node"
    UNKNOWN_OPERATION = "unknown_operation"
    HANDLER_FAILED = "handler_failed"
    UNDECODABLE = "undecodable"
    """Beyond the decoder's bounds (too deep, a number out of range) or failing in an unforeseen way."""
    REPLY_REFUSED = "reply_refused"
    """``reply_to`` not allowed by the contract, or refused by the broker (unknown topic, not authorised)."""
    REPLY_UNDELIVERABLE = "reply_undeliverable"
    """The bus's own reply topic refused the reply (missing, not authorised)."""
    INTERNAL_ERROR = "internal_error"
    """A bug or an unclassified failure while processing or delivering; the record is kept for redrive."""


POISON_ERROR_CODES: dict[EnumErrorCode, DeadLetterReason] = {
    EnumErrorCode.UNKNOWN_NODE: DeadLetterReason.UNKNOWN_NODE,
    EnumErrorCode.UNKNOWN_OPERATION: DeadLetterReason.UNKNOWN_OPERATION,
    EnumErrorCode.INVALID_ENVELOPE: DeadLetterReason.INVALID_ENVELOPE,
}
"""Error replies that mean the command can never succeed on this deployment as sent:
they are answered *and* dead-lettered, so an operator can fix and redrive them."""


@immutable
class InboundRecord:
    """One consumed record, independent of the Kafka client's record type."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class DecodeFailure:
    """A record that is not a routable command.

    ``answerable`` is a stand-in request rebuilt from whatever fields could be
    recovered (it needs at least a valid ``correlation_id`` and
    ``handler_type``), so the sender can still get an error reply instead of
    waiting for its timeout; ``None`` when nobody can be addressed.
    """

    reason: DeadLetterReason
    detail: str
    answerable: ModelOnexEnvelope | None = None


def decode_command(value: bytes | None, *, max_bytes: int) -> ModelOnexEnvelope | DecodeFailure:
    """Decode a command record's value; never raises.

    The common case (a valid command) is parsed once, in pydantic-core; only a
    record that fails it takes the slower path that names the reason and
    recovers enough of the request to answer its sender.
    """
    if value is None:
        return DecodeFailure(DeadLetterReason.NOT_AN_ENVELOPE, "record has no value (tombstone)")
    try:
        if len(value) <= max_bytes:
            try:
                envelope = ModelOnexEnvelope.model_validate_json(value)
            except ValidationError:
                pass
            else:
                if not envelope.is_response:
                    return envelope
        return _diagnose(value, max_bytes)
    except Exception as exc:  # the codec's promise: a record is a command or a reason, never a raise
        return DecodeFailure(DeadLetterReason.UNDECODABLE, f"the record could not be decoded ({type(exc).__name__})")


def _diagnose(value: bytes, max_bytes: int) -> ModelOnexEnvelope | DecodeFailure:
    """Why a record is not a command, with a stand-in to answer when the sender can be told."""
    try:
        document = from_json(value)
    except ValueError as exc:
        message = str(exc)
        if any(limit in message for limit in _PARSER_LIMITS):
            return DecodeFailure(DeadLetterReason.UNDECODABLE, _clip(f"JSON beyond the decoder's bounds: {message}"))
        return DecodeFailure(DeadLetterReason.NOT_JSON, _clip(f"not UTF-8 JSON: {message}"))
    answerable = _answerable_stand_in(document)
    if len(value) > max_bytes:
        return DecodeFailure(
            DeadLetterReason.OVERSIZED,
            f"record is {len(value)} bytes, larger than max_message_bytes={max_bytes}",
            answerable,
        )
    if not isinstance(document, dict) or not any(field in document for field in _ENVELOPE_REQUIRED):
        kind = type(document).__name__ if not isinstance(document, dict) else "object without envelope fields"
        return DecodeFailure(DeadLetterReason.NOT_AN_ENVELOPE, f"JSON {kind} is not an envelope", answerable)
    try:
        envelope = ModelOnexEnvelope.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(f"{format_location(e['loc']) or '(envelope)'}: {describe_error(e)}" for e in exc.errors())
        return DecodeFailure(DeadLetterReason.INVALID_ENVELOPE, _clip(problems), answerable)
    if envelope.is_response:
        # Answering a reply would publish another reply: a loop when reply_to points back here.
        return DecodeFailure(DeadLetterReason.NOT_A_COMMAND, "reply envelopes (is_response=true) are not commands")
    return envelope


def _answerable_stand_in(document: Any) -> ModelOnexEnvelope | None:
    if not isinstance(document, dict):
        return None
    try:
        correlation_id = UUID(str(document.get("correlation_id")))
        handler_type = EnumHandlerType(str(document.get("handler_type")))
    except ValueError:
        return None
    with contextlib.suppress(ValueError):
        return _stand_in(document, correlation_id, handler_type)
    return None


def _stand_in(
    document: dict[str, Any], correlation_id: UUID, handler_type: EnumHandlerType
) -> ModelOnexEnvelope | None:
    if document.get("is_response") is True:
        return None
    metadata: dict[str, Any] = {}
    raw_metadata = document.get("metadata")
    if isinstance(raw_metadata, dict) and isinstance(raw_metadata.get("reply_to"), str):
        metadata["reply_to"] = raw_metadata["reply_to"]
    fields: dict[str, Any] = {
        "correlation_id": correlation_id,
        "handler_type": handler_type,
        "source_node": _non_empty_str(document.get("source_node")) or "unknown",
        "operation": _non_empty_str(document.get("operation")) or "unknown",
        "target_node": _non_empty_str(document.get("target_node")),
        "metadata": metadata,
    }
    with contextlib.suppress(ValueError):
        fields["envelope_id"] = UUID(str(document.get("envelope_id")))
    return ModelOnexEnvelope(**fields)


def _non_empty_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL_CHARS else text[: _MAX_DETAIL_CHARS - 1] + "…"


# -- dead letters --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """What to produce to the dead-letter topic: the original key and bytes, plus why."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def dead_letter(
    record: InboundRecord,
    reason: DeadLetterReason,
    detail: str,
    *,
    attempts: int,
    error_code: EnumErrorCode | None = None,
    now: datetime | None = None,
) -> DeadLetterRecord:
    """Build the DLQ record for ``record``; earlier ``onex.dlq.*`` headers are replaced, others kept."""
    headers = [(name, value) for name, value in record.headers if not name.startswith(DLQ_HEADER_PREFIX)]
    headers += [
        (HEADER_REASON, reason.value.encode()),
        (HEADER_DETAIL, _clip(scrub(detail)).encode()),
        (HEADER_ORIGIN_TOPIC, record.topic.encode()),
        (HEADER_ORIGIN_PARTITION, str(record.partition).encode()),
        (HEADER_ORIGIN_OFFSET, str(record.offset).encode()),
        (HEADER_ATTEMPTS, str(attempts).encode()),
        (HEADER_DEAD_LETTERED_AT, (now or datetime.now(UTC)).isoformat().encode()),
    ]
    if error_code is not None:
        headers.append((HEADER_ERROR_CODE, error_code.value.encode()))
    return DeadLetterRecord(key=record.key, value=record.value, headers=headers)


@dataclass(frozen=True, slots=True)
class DeadLetterInfo:
    """The ``onex.dlq.*`` headers of a dead-lettered record, read back."""

    reason: str
    origin_topic: str
    origin_partition: int | None
    origin_offset: int | None
    attempts: int | None
    detail: str = ""


def read_dead_letter_headers(headers: Headers) -> DeadLetterInfo | None:
    """Parse the DLQ headers; ``None`` if the record was not written by ``dead_letter``."""
    values = {name: value.decode("utf-8", "replace") for name, value in headers if name.startswith(DLQ_HEADER_PREFIX)}
    reason, origin_topic = values.get(HEADER_REASON), values.get(HEADER_ORIGIN_TOPIC)
    if not reason or not origin_topic:
        return None
    return DeadLetterInfo(
        reason=reason,
        origin_topic=origin_topic,
        origin_partition=_int_or_none(values.get(HEADER_ORIGIN_PARTITION)),
        origin_offset=_int_or_none(values.get(HEADER_ORIGIN_OFFSET)),
        attempts=_int_or_none(values.get(HEADER_ATTEMPTS)),
        detail=values.get(HEADER_DETAIL, ""),
    )


def redriven_headers(headers: Headers, dead_letter_topic: str) -> list[tuple[str, bytes]]:
    """Headers for replaying a dead letter: the original ones, plus where it was redriven from."""
    kept = [(n, v) for n, v in headers if not n.startswith(DLQ_HEADER_PREFIX) and n != HEADER_REDRIVEN_FROM]
    return [*kept, (HEADER_REDRIVEN_FROM, dead_letter_topic.encode())]


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
