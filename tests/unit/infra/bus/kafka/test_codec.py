from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from onex_host.core.enums import EnumErrorCode
from onex_host.infra.bus.kafka.codec import (
    HEADER_REDRIVEN_FROM,
    DeadLetterReason,
    DecodeFailure,
    InboundRecord,
    dead_letter,
    decode_command,
    read_dead_letter_headers,
    redriven_headers,
)
from tests.support.builders.factories import command

MAX = 10_000


def _failure(value: bytes | None) -> DecodeFailure:
    decoded = decode_command(value, max_bytes=MAX)
    assert isinstance(decoded, DecodeFailure), decoded
    return decoded


def test_a_valid_command_decodes_to_the_same_envelope() -> None:
    request = command(payload={"n": 1}, metadata={"reply_to": "mine"})
    assert decode_command(request.to_wire(), max_bytes=MAX) == request


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe not utf8", DeadLetterReason.NOT_JSON),
        (b"{not json", DeadLetterReason.NOT_JSON),
        (b"[1, 2]", DeadLetterReason.NOT_AN_ENVELOPE),
        (b'{"hello": "world"}', DeadLetterReason.NOT_AN_ENVELOPE),
        (None, DeadLetterReason.NOT_AN_ENVELOPE),
        (b'{"source_node": "t", "handler_type": "kafka", "operation": "x"}', DeadLetterReason.INVALID_ENVELOPE),
    ],
)
def test_poison_is_classified_with_a_reason(value: bytes | None, reason: DeadLetterReason) -> None:
    assert _failure(value).reason is reason


def test_validation_problems_name_the_field() -> None:
    failure = _failure(b'{"source_node": "t", "handler_type": "kafka", "operation": "x"}')
    assert failure.detail.startswith("handler_type: unknown value 'kafka'")
    assert failure.answerable is None  # no correlation id: nobody to answer


def test_an_oversized_command_is_rejected_before_validation_but_still_answerable() -> None:
    request = command(payload={"blob": "x" * MAX})
    failure = _failure(request.to_wire())
    assert failure.reason is DeadLetterReason.OVERSIZED
    assert "larger than max_message_bytes=10000" in failure.detail
    assert failure.answerable is not None
    assert failure.answerable.correlation_id == request.correlation_id
    assert failure.answerable.envelope_id == request.envelope_id


def test_a_broken_envelope_with_a_correlation_id_can_still_be_answered_at_its_reply_to() -> None:
    correlation_id = uuid4()
    document = {
        "correlation_id": str(correlation_id),
        "handler_type": "local",
        "source_node": "caller",
        "operation": "echo",
        "ttl_seconds": -1,
        "metadata": {"reply_to": "caller.replies"},
    }
    failure = _failure(json.dumps(document).encode())
    assert failure.reason is DeadLetterReason.INVALID_ENVELOPE
    assert failure.answerable is not None
    reply = failure.answerable.reply_error(EnumErrorCode.INVALID_ENVELOPE, failure.detail)
    assert reply.correlation_id == correlation_id
    assert reply.target_node == "caller"
    assert failure.answerable.metadata == {"reply_to": "caller.replies"}


def test_replies_on_the_command_topic_are_not_commands_and_are_never_answered() -> None:
    reply = command().reply_success({})
    failure = _failure(reply.to_wire())
    assert failure.reason is DeadLetterReason.NOT_A_COMMAND
    assert failure.answerable is None


def test_dead_letter_keeps_the_original_bytes_and_headers_and_records_why() -> None:
    record = InboundRecord(topic="cmd", partition=4, offset=77, key=b"k", value=b"\x00raw", headers=(("trace", b"t1"),))
    at = datetime(2026, 1, 2, tzinfo=UTC)
    letter = dead_letter(
        record, DeadLetterReason.HANDLER_FAILED, "boom", attempts=3, error_code=EnumErrorCode.TIMEOUT, now=at
    )
    assert (letter.key, letter.value) == (b"k", b"\x00raw")
    headers = dict(letter.headers)
    assert headers["trace"] == b"t1"
    assert headers["onex.dlq.reason"] == b"handler_failed"
    assert headers["onex.dlq.error_code"] == b"timeout"
    assert headers["onex.dlq.dead_lettered_at"] == at.isoformat().encode()
    info = read_dead_letter_headers(letter.headers)
    assert info is not None
    assert (info.reason, info.origin_topic, info.origin_partition, info.origin_offset, info.attempts) == (
        "handler_failed",
        "cmd",
        4,
        77,
        3,
    )
    assert info.detail == "boom"


def test_dead_lettering_again_replaces_the_previous_dead_letter_headers() -> None:
    first = dead_letter(InboundRecord("cmd", 0, 1, None, b"x"), DeadLetterReason.NOT_JSON, "a", attempts=0)
    again = InboundRecord("cmd", 1, 9, None, b"x", headers=tuple(first.headers))
    second = dead_letter(again, DeadLetterReason.UNKNOWN_NODE, "b", attempts=1)
    names = [name for name, _ in second.headers]
    assert names.count("onex.dlq.reason") == 1
    assert dict(second.headers)["onex.dlq.reason"] == b"unknown_node"


def test_redriven_headers_drop_dead_letter_metadata_and_record_the_source() -> None:
    letter = dead_letter(
        InboundRecord("cmd", 0, 1, None, b"x", headers=(("trace", b"t"),)), DeadLetterReason.NOT_JSON, "", attempts=0
    )
    headers = redriven_headers(letter.headers, "cmd.dlq")
    assert headers == [("trace", b"t"), (HEADER_REDRIVEN_FROM, b"cmd.dlq")]
    assert read_dead_letter_headers(headers) is None


def test_long_details_are_clipped() -> None:
    letter = dead_letter(InboundRecord("c", 0, 0, None, b""), DeadLetterReason.NOT_JSON, "x" * 5000, attempts=0)
    assert len(dict(letter.headers)["onex.dlq.detail"].decode()) == 1000
