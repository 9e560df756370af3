"""Hypothesis strategies for what a hostile or broken producer can put on the command topic.

Shared by the broker-less fuzz tests and the smaller real-Kafka sample, so both
draw from the same space: arbitrary bytes, arbitrary JSON documents (deep
nesting, huge and non-finite numbers, odd Unicode, huge strings) and
envelope-shaped documents whose fields are pushed past their bounds (far
timestamps, infinite TTLs, reply_to of every kind).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import strategies as st

ODD_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Z", "Cc", "Cf", "Co"]), max_size=40
) | st.sampled_from(["\u202e", "\ufeff", "\x00", "é" * 3, "🦀", "\U0010ffff", "a" * 200_000])

NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=10**30, max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e308, -1e308, 5e-324]),
)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | ODD_TEXT,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(ODD_TEXT, children, max_size=5),
    max_leaves=30,
)

RAW_NUMBER_LITERALS = st.sampled_from(
    ["1e400", "-1e400", "Infinity", "-Infinity", "NaN", "9" * 5000, "1" + "0" * 400, "0.0000001e-400"]
)

TIMESTAMPS = st.sampled_from(
    [
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "2026-01-01T00:00:00+14:00",
        "2026-01-01T00:00:00",
        "not a time",
        "2026-13-45T99:99:99Z",
    ]
) | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())

REPLY_TO = st.one_of(
    st.none(),
    ODD_TEXT,
    st.sampled_from(["", ".", "..", "a" * 300, "bad topic!", "__consumer_offsets", "t.cmd", "ok.topic"]),
    st.integers(),
    st.lists(st.integers(), max_size=2),
)


def dumps(document: Any) -> bytes:
    return json.dumps(document, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def envelope_documents(draw: st.DrawFn) -> bytes:
    """An envelope-shaped JSON document with some fields pushed past their bounds; raw literals spliced in."""
    document: dict[str, Any] = {
        "source_node": draw(st.sampled_from(["caller", "", "x" * 10_000])),
        "handler_type": draw(st.sampled_from(["local", "db", "nope", 7])),
        "operation": draw(st.sampled_from(["echo", "fail", "", "unknown-op"])),
        "target_node": draw(st.sampled_from(["echo", None, "nobody"])),
        "correlation_id": draw(st.sampled_from([str(uuid.uuid4()), "not-a-uuid", 12])),
        "payload": draw(st.dictionaries(ODD_TEXT, JSON_VALUES, max_size=3) | JSON_VALUES),
        "metadata": {"reply_to": draw(REPLY_TO)},
    }
    if draw(st.booleans()):
        document["timestamp"] = draw(TIMESTAMPS)
    if draw(st.booleans()):
        document["is_response"] = draw(st.sampled_from([True, False, "yes"]))
    literal = draw(st.none() | RAW_NUMBER_LITERALS)
    ttl = draw(NUMBERS | st.none())
    document["ttl_seconds"] = "__TTL__" if literal is not None else ttl
    wire = dumps(document)
    if literal is not None:
        wire = wire.replace(b'"__TTL__"', literal.encode())
    return wire


@st.composite
def commands(draw: st.DrawFn) -> bytes:
    """A command valid in every field but the fuzzed payload, reply_to, TTL and timestamp (within bounds or not)."""
    document: dict[str, Any] = {
        "source_node": "caller",
        "handler_type": "local",
        "operation": draw(st.sampled_from(["echo", "echo", "fail", "undeclared"])),
        "target_node": draw(st.sampled_from(["echo", "echo", None, "nobody"])),
        "correlation_id": str(uuid.uuid4()),
        "payload": draw(st.dictionaries(ODD_TEXT, JSON_VALUES, max_size=4)),
        "metadata": draw(st.just({}) | REPLY_TO.map(lambda reply_to: {"reply_to": reply_to})),
    }
    ttl = draw(st.none() | st.floats(min_value=0.001, max_value=7 * 24 * 3600) | NUMBERS)
    if ttl is not None:
        document["ttl_seconds"] = ttl
    if draw(st.booleans()):
        document["timestamp"] = draw(TIMESTAMPS)
    return dumps(document)


def deep(depth: int, opener: bytes = b"[") -> bytes:
    return opener * depth


RECORDS = st.one_of(
    commands(),
    commands(),
    st.binary(max_size=2_000),
    JSON_VALUES.map(dumps),
    envelope_documents(),
    st.integers(min_value=100, max_value=200_000).map(deep),
    st.integers(min_value=100, max_value=5_000).map(lambda n: b'{"a":' * n),
)
"""Everything the fuzz tests feed in."""
