"""``to_wire``'s orjson path writes exactly pydantic's bytes, and leaves anything unusual to pydantic."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onex_host.core.enums import EnumErrorCode, EnumHandlerType
from onex_host.core.envelope import MAX_TTL_SECONDS, ModelOnexEnvelope

PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Colour(enum.Enum):
    RED = "red"


class Tag(str):
    """A str subclass: pydantic and orjson need not agree on it, so it must take pydantic's path."""


any_text = st.text(st.characters(codec=None), max_size=12)  # surrogates and control characters included
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**64) - 2, 2**64 + 2),
    st.floats(),  # NaN and infinities too: a payload can be changed after validation
    any_text,
)
unusual = st.one_of(
    st.uuids(),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.just(Colour.RED),
    st.builds(Tag, any_text),
    st.binary(max_size=4),
    st.decimals(allow_nan=False, places=2),  # Decimal
    st.dates(),
)
plain_json = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4), max_leaves=20
)
odd_json = st.recursive(
    st.one_of(scalars, unusual),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.one_of(any_text, st.integers(), st.builds(Tag, any_text)), inner, max_size=3)
    ),
    max_leaves=12,
)
offsets = st.one_of(
    st.just(UTC),
    st.builds(timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))),
)
names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=8)  # the model refuses lone surrogates


@st.composite
def envelopes(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> ModelOnexEnvelope:
    now = datetime.now(UTC)
    timestamp = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=now.replace(tzinfo=None), timezones=offsets))
    envelope = ModelOnexEnvelope(
        source_node=draw(names),
        target_node=draw(st.none() | names),
        handler_type=draw(st.sampled_from(EnumHandlerType)),
        operation=draw(names),
        causation_id=draw(st.none() | st.uuids()),
        timestamp=timestamp,
        ttl_seconds=draw(
            st.none() | st.integers(1, MAX_TTL_SECONDS) | st.floats(1e-9, MAX_TTL_SECONDS, exclude_min=False)
        ),
        is_response=draw(st.booleans()),
        success=draw(st.none() | st.booleans()),
        error=draw(st.none() | st.text(st.characters(codec="utf-8"), max_size=8)),
        error_code=draw(st.none() | st.sampled_from(EnumErrorCode)),
    )
    # Set after validation: a handler's dict may change after its reply was built, so anything can be in it.
    envelope.payload.update(draw(st.dictionaries(any_text, values, max_size=4)))
    envelope.metadata.update(draw(st.dictionaries(any_text, values, max_size=2)))
    return envelope


def pydantic_wire(envelope: ModelOnexEnvelope) -> bytes | type[BaseException]:
    try:
        return envelope.model_dump_json().encode()
    except Exception as exc:
        return type(exc)


def host_wire(envelope: ModelOnexEnvelope) -> bytes | type[BaseException]:
    try:
        return envelope.to_wire()
    except Exception as exc:
        return type(exc)


@PROPERTY
@given(envelopes(plain_json))
def test_plain_envelopes_encode_to_pydantics_exact_bytes(envelope: ModelOnexEnvelope) -> None:
    assert host_wire(envelope) == pydantic_wire(envelope)


@PROPERTY
@given(envelopes(odd_json))
def test_unusual_values_encode_exactly_as_pydantic_encodes_them_or_fail_alike(envelope: ModelOnexEnvelope) -> None:
    assert host_wire(envelope) == pydantic_wire(envelope)


def test_the_replies_the_host_builds_take_the_orjson_path() -> None:
    request = ModelOnexEnvelope(source_node="caller", target_node="echo", handler_type="local", operation="echo")
    replies = [
        request.reply_success({"data": "x" * 1024, "n": [1, 2.5, None, True], "nested": {"k": "é\u2028"}}),
        request.reply_error(EnumErrorCode.TIMEOUT, "too slow", {"after_s": 2.0}),
    ]
    for reply in replies:
        wire = reply._plain_wire()
        assert wire is not None
        assert wire == reply.model_dump_json().encode()
        assert ModelOnexEnvelope.from_wire(wire) == reply


def test_a_value_outside_orjsons_bounds_falls_back_to_pydantic() -> None:
    envelope = ModelOnexEnvelope(source_node="s", handler_type="local", operation="o", payload={"big": 2**70})
    assert envelope._plain_wire() is None
    assert envelope.to_wire() == envelope.model_dump_json().encode()
