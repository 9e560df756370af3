"""Whatever lands on the command topic ends in a reply or a dead letter: never an exception, never a drop.

Hypothesis draws records from ``fuzz.RECORDS`` and pushes each through the
codec, then through the Kafka bus's whole per-record path (``CommandProcessor``
with a scripted producer, so every delivery is visible) and, when it is a
command, through the memory bus. The real-broker sample of the same space is
in ``test_fuzzed_records_on_real_kafka.py``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from onex_host.core.envelope import ModelOnexEnvelope, utc_now
from onex_host.infra.bus.kafka.codec import DecodeFailure, InboundRecord, decode_command
from onex_host.infra.bus.kafka.dispatcher import Ownership
from onex_host.infra.bus.kafka.outcome import DeadLetter, OutcomeRules, Undecodable, decide
from onex_host.infra.bus.kafka.processing import CommandProcessor
from onex_host.infra.bus.kafka.sender import KafkaSender
from onex_host.infra.bus.memory import REPLIES, MemoryEventBus
from onex_host.infra.metrics import HostMetrics
from tests.security.command_topic.fuzz import RECORDS, deep
from tests.support.builders.factories import echo_runtime
from tests.support.builders.kafka_bus import bus_config
from tests.support.doubles.kafka_doubles import Producers, failing

PREFIX = "t.fuzz"
MAX_BYTES = 1_048_576
EXAMPLES = 400
OUTCOMES: Counter[str] = Counter()
"""Per test session: how the fuzzed records ended (printed at the end, for the record)."""

FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@pytest.fixture(scope="module", autouse=True)
def report_outcomes() -> Iterator[None]:
    yield
    print(f"\nfuzzed command-topic records by outcome: {dict(sorted(OUTCOMES.items()))}")


@FUZZ
@given(value=RECORDS)
def test_the_codec_never_raises_and_always_says_what_a_record_is(value: bytes) -> None:
    decoded = decode_command(value, max_bytes=MAX_BYTES)
    assert isinstance(decoded, ModelOnexEnvelope | DecodeFailure)
    if isinstance(decoded, DecodeFailure):
        assert decoded.detail
        OUTCOMES[f"codec:{decoded.reason.value}"] += 1
        action = decide(
            Undecodable(decoded), 0, OutcomeRules.from_config(bus_config("127.0.0.1:1", PREFIX)), now=utc_now()
        )
        assert isinstance(action, DeadLetter)
    else:
        OUTCOMES["codec:command"] += 1


async def _through_the_kafka_path(value: bytes) -> dict[str, list[tuple[bytes | None, dict[str, bytes]]]]:
    runtime = await echo_runtime("echo")
    producers = Producers(failing())
    config = bus_config(
        "127.0.0.1:1",
        PREFIX,
        allowed_reply_topics=["ok.topic"],
        retry={"max_attempts": 2, "initial_backoff_seconds": 0.001, "max_backoff_seconds": 0.001},
    )
    processor = CommandProcessor(config, KafkaSender(config, build_producer=producers), HostMetrics(mode="primary"))
    processor.on_envelope = runtime.route_envelope
    record = InboundRecord(topic=f"{PREFIX}.cmd", partition=0, offset=0, key=b"k", value=value)
    try:
        async with asyncio.timeout(10):
            assert await processor.process(record, Ownership()) is True
    finally:
        await runtime.shutdown()
    sent: dict[str, list[tuple[bytes | None, dict[str, bytes]]]] = {}
    for topic, _key, wire, headers in producers.delivered:
        sent.setdefault(topic, []).append((wire, dict(headers)))
    return sent


@FUZZ
@given(value=RECORDS)
def test_every_fuzzed_record_is_answered_or_dead_lettered_exactly_once(value: bytes) -> None:
    sent = asyncio.run(_through_the_kafka_path(value))
    letters = sent.pop(f"{PREFIX}.cmd.dlq", [])
    replies = [wire for records in sent.values() for wire, _ in records]
    assert set(sent) <= {f"{PREFIX}.evt", "ok.topic"}, sent.keys()
    assert len(letters) <= 1
    assert len(replies) <= 1
    assert letters or replies, "neither a reply nor a dead letter"
    if letters:
        reason = letters[0][1]["onex.dlq.reason"].decode()
        OUTCOMES[f"kafka-path:dead-letter:{reason}"] += 1
        assert letters[0][0] in (value, None)
    else:
        OUTCOMES["kafka-path:reply"] += 1
    for wire in replies:
        assert wire is not None
        ModelOnexEnvelope.from_wire(wire)  # every reply the host publishes is a valid envelope


async def _through_the_memory_bus(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
    runtime = await echo_runtime("echo")
    bus = MemoryEventBus(max_concurrent=2)
    await bus.start(runtime.route_envelope)
    try:
        await bus.publish(envelope)
        async with asyncio.timeout(5):
            destination = envelope.metadata.get("reply_to")
            return await bus.next_reply(destination if isinstance(destination, str) and destination else REPLIES)
    finally:
        await bus.stop(timeout_seconds=5)
        await runtime.shutdown()


@FUZZ
@given(value=RECORDS)
def test_every_fuzzed_command_is_answered_by_the_memory_bus(value: bytes) -> None:
    decoded = decode_command(value, max_bytes=MAX_BYTES)
    if isinstance(decoded, DecodeFailure):
        return  # dead-lettered by the codec: checked above
    reply = asyncio.run(_through_the_memory_bus(decoded))
    assert reply.correlation_id == decoded.correlation_id
    OUTCOMES["memory-bus:reply"] += 1


@pytest.mark.parametrize(
    "value",
    [
        deep(100_000),
        deep(100_000, b"{"),
        b'{"a":' * 50_000,
        b"9" * 100_000,
        b'{"source_node":"s","handler_type":"local","operation":"echo","ttl_seconds":1e400}',
        b'{"source_node":"s","handler_type":"local","operation":"echo","ttl_seconds":Infinity}',
        b'{"source_node":"s","handler_type":"local","operation":"echo","ttl_seconds":NaN}',
        b'{"source_node":"s","handler_type":"local","operation":"echo","timestamp":"9999-12-31T23:59:59Z"}',
        b'{"source_node":"s","handler_type":"local","operation":"echo","payload":{"s":"\\ud800"}}',
        b'"' + b"x" * 900_000 + b'"',
    ],
    ids=[
        "deep-lists",
        "deep-objects",
        "deep-keys",
        "huge-int",
        "ttl-1e400",
        "ttl-inf",
        "ttl-nan",
        "far-time",
        "lone-surrogate",
        "huge-string",
    ],
)
def test_the_records_from_the_issue_are_dead_lettered_not_dropped(value: bytes) -> None:
    sent = asyncio.run(_through_the_kafka_path(value))
    assert len(sent.get(f"{PREFIX}.cmd.dlq", [])) == 1
