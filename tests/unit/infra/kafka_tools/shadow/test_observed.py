from __future__ import annotations

import json

from onex_host.core.enums import EnumErrorCode
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.kafka_tools.shadow.observed import Side, decode_reply
from tests.support.builders.factories import command


def test_an_envelope_reply_is_decoded_with_its_own_timestamp() -> None:
    reply = command().reply_success({"n": 1})
    observed = decode_reply(Side.SHADOW, reply.to_wire(), None, arrived_at=5.0, record_timestamp_ms=1)
    assert observed is not None
    assert observed.correlation_id == str(reply.correlation_id)
    assert observed.replied_at == reply.timestamp.timestamp()
    assert observed.arrived_at == 5.0
    assert observed.document["payload"] == {"n": 1}
    assert not observed.shadow_skipped


def test_the_record_key_and_timestamp_stand_in_for_missing_fields() -> None:
    value = json.dumps({"payload": {}, "timestamp": "not a time"}).encode()
    observed = decode_reply(Side.LEGACY, value, b"cid-1", arrived_at=0.0, record_timestamp_ms=1_500)
    assert observed is not None
    assert observed.correlation_id == "cid-1"
    assert observed.replied_at == 1.5


def test_records_that_are_not_replies_are_not_decoded() -> None:
    for value, key in [(b"\xff\xfe", b"k"), (b"not json", b"k"), (b"[1]", b"k"), (b"{}", None), (None, b"k")]:
        assert decode_reply(Side.LEGACY, value, key, arrived_at=0.0, record_timestamp_ms=0) is None


def test_a_shadow_skipped_reply_is_recognised() -> None:
    request = command()
    skipped = request.reply_error(EnumErrorCode.SHADOW_SKIPPED, "skipped", {"would_run": {}})
    observed = decode_reply(Side.SHADOW, skipped.to_wire(), None, arrived_at=0.0, record_timestamp_ms=0)
    assert observed is not None
    assert observed.shadow_skipped
    assert ModelOnexEnvelope.from_wire(skipped.to_wire()).error_code is EnumErrorCode.SHADOW_SKIPPED
