from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from pydantic import ValidationError

from onex_host.core.enums import EnumErrorCode, EnumHandlerType
from onex_host.core.envelope import RUNTIME_HOST_SOURCE, ModelOnexEnvelope
from tests.support.builders.factories import command


def test_wire_round_trip_is_exact() -> None:
    original = ModelOnexEnvelope(
        source_node="a",
        target_node="b",
        handler_type=EnumHandlerType.DB,
        operation="get_user",
        causation_id=uuid4(),
        payload={"nested": {"list": [1, 2.5, None, "x"]}},
        metadata={"reply_to": "replies"},
        timestamp=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2))),
        ttl_seconds=1.5,
    )
    decoded = ModelOnexEnvelope.from_wire(original.to_wire())
    assert decoded == original
    assert decoded.timestamp.utcoffset() == timedelta(hours=2)
    assert decoded.to_wire() == original.to_wire()


def test_wire_form_is_model_dump_json() -> None:
    import json

    envelope = command(payload={"k": "v"})
    assert json.loads(envelope.to_wire()) == envelope.model_dump(mode="json")


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        command(timestamp=datetime(2026, 1, 1))


def test_unknown_fields_and_kafka_handler_are_refused() -> None:
    data = command().model_dump(mode="json")
    with pytest.raises(ValidationError):
        ModelOnexEnvelope.model_validate({**data, "surprise": 1})
    with pytest.raises(ValidationError):
        ModelOnexEnvelope.model_validate({**data, "handler_type": "kafka"})


def test_success_reply_links_to_its_request() -> None:
    request = command(payload={"a": 1})
    reply = request.reply_success({"b": 2})
    assert reply.correlation_id == request.correlation_id
    assert reply.causation_id == request.envelope_id
    assert reply.envelope_id != request.envelope_id
    assert (reply.source_node, reply.target_node) == ("echo", "test")
    assert (reply.is_response, reply.success, reply.error) == (True, True, None)
    assert reply.payload == {"b": 2}


def test_error_reply_carries_code_message_and_details() -> None:
    request = command(target=None)
    reply = request.reply_error(EnumErrorCode.FORBIDDEN, "nope", {"host": "evil"})
    assert reply.source_node == RUNTIME_HOST_SOURCE
    assert (reply.success, reply.error_code, reply.error, reply.payload) == (
        False,
        EnumErrorCode.FORBIDDEN,
        "nope",
        {"host": "evil"},
    )


def test_ttl_expiry() -> None:
    now = datetime.now(UTC)
    envelope = command(timestamp=now - timedelta(seconds=5), ttl_seconds=2)
    assert envelope.is_expired(now)
    assert envelope.remaining_seconds(now) == pytest.approx(-3)
    assert not command(ttl_seconds=60).is_expired()
    assert command().remaining_seconds() is None
    assert command().expires_at is None
