"""One record's way through codec -> callback -> outcome -> sender, with a scripted producer instead of a broker."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import (
    InvalidTopicError,
    KafkaConnectionError,
    MessageSizeTooLargeError,
    TopicAuthorizationFailedError,
    UnknownProducerId,
    UnknownTopicOrPartitionError,
)

from onex_host.core.enums import EnumErrorCode
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.kafka.codec import InboundRecord
from onex_host.infra.bus.kafka.dispatcher import Ownership
from onex_host.infra.bus.kafka.processing import CommandProcessor
from onex_host.infra.bus.kafka.sender import KafkaSender
from onex_host.infra.metrics import HostMetrics
from tests.support.builders.factories import command
from tests.support.builders.kafka_bus import bus_config
from tests.support.doubles.kafka_doubles import Producers, failing

PREFIX = "t.proc"


def processor(producers: Producers, **overrides: Any) -> tuple[CommandProcessor, HostMetrics]:
    settings: dict[str, Any] = {
        "retry": {"max_attempts": 3, "initial_backoff_seconds": 0.01, "max_backoff_seconds": 0.02},
        **overrides,
    }
    config = bus_config("127.0.0.1:1", PREFIX, **settings)
    metrics = HostMetrics(mode=config.mode)
    metrics.declare({"echo": frozenset({"echo", "sleep", "fail"})})  # as the process declares its contracts
    return CommandProcessor(config, KafkaSender(config, build_producer=producers), metrics), metrics


def record(value: bytes | None, offset: int = 0) -> InboundRecord:
    return InboundRecord(topic=f"{PREFIX}.cmd", partition=0, offset=offset, key=b"k", value=value)


def by_topic(producers: Producers) -> dict[str, list[tuple[bytes | None, dict[str, bytes]]]]:
    topics: dict[str, list[tuple[bytes | None, dict[str, bytes]]]] = {}
    for topic, _key, value, headers in producers.delivered:
        topics.setdefault(topic, []).append((value, dict(headers)))
    return topics


async def test_a_callback_that_raises_is_answered_through_core_replies_retried_then_dead_lettered() -> None:
    producers = Producers(failing())
    proc, metrics = processor(producers)
    runs = 0

    async def raising(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        nonlocal runs
        runs += 1
        raise RuntimeError("secret dsn postgres://u:p@db")

    proc.on_envelope = raising
    request = command()
    assert await proc.process(record(request.to_wire()), Ownership()) is True
    assert runs == 3  # internal_error is retryable
    sent = by_topic(producers)
    [(letter, headers)] = sent[f"{PREFIX}.cmd.dlq"]
    assert letter == request.to_wire()
    assert (headers["onex.dlq.reason"], headers["onex.dlq.attempts"]) == (b"handler_failed", b"3")
    [(wire, _)] = sent[f"{PREFIX}.evt"]
    assert wire is not None
    reply = ModelOnexEnvelope.from_wire(wire)
    assert (reply.success, reply.error_code, reply.correlation_id) == (False, "internal_error", request.correlation_id)
    assert reply.error is not None
    assert "the host's envelope callback failed unexpectedly (RuntimeError)" in reply.error
    assert "postgres://" not in reply.error
    rendered = metrics.render().decode()
    assert 'onex_retries_total{mode="primary",node="echo",operation="echo"} 2.0' in rendered
    assert 'onex_dead_letters_total{mode="primary",reason="handler_failed"} 1.0' in rendered


async def test_an_undecodable_record_is_dead_lettered_and_nothing_else_is_sent() -> None:
    producers = Producers(failing())
    proc, _metrics = processor(producers)
    assert await proc.process(record(b"\x00 not json"), Ownership()) is True
    sent = by_topic(producers)
    assert list(sent) == [f"{PREFIX}.cmd.dlq"]
    assert sent[f"{PREFIX}.cmd.dlq"][0][1]["onex.dlq.reason"] == b"not_json"


async def test_a_shadow_processor_answers_on_the_shadow_topic_whatever_reply_to_says() -> None:
    producers = Producers(failing())
    proc, _metrics = processor(producers, mode="shadow")

    async def echo(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        return envelope.reply_success({"ok": True})

    proc.on_envelope = echo
    request = command(metadata={"reply_to": "caller.private"})
    assert await proc.process(record(request.to_wire()), Ownership()) is True
    assert list(by_topic(producers)) == [f"{PREFIX}.evt.shadow"]


async def test_a_revoke_during_a_retry_delay_abandons_the_record_unsent() -> None:
    producers = Producers(failing())
    proc, _metrics = processor(
        producers, retry={"max_attempts": 5, "initial_backoff_seconds": 30, "max_backoff_seconds": 30}
    )

    async def unavailable(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        return envelope.reply_error(EnumErrorCode.UPSTREAM_UNAVAILABLE, "down")

    proc.on_envelope = unavailable
    ownership = Ownership()
    task = asyncio.create_task(proc.process(record(command().to_wire()), ownership))
    await asyncio.sleep(0.05)
    ownership.lose()
    async with asyncio.timeout(2):
        assert await task is False
    assert producers.delivered == []


# -- the invariant: a reply, a dead letter, or still held; never "done" with neither ----------------


async def echo(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
    return envelope.reply_success({"ok": True})


def refusing(topic: str, error: BaseException) -> Any:
    return lambda t, _k, _v: error if t == topic else None


async def test_a_reply_pydantic_cannot_serialise_is_answered_with_internal_error() -> None:
    producers = Producers(failing())
    proc, _metrics = processor(producers)

    async def unserialisable(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        return envelope.reply_success({"value": object()})

    proc.on_envelope = unserialisable
    assert await proc.process(record(command().to_wire()), Ownership()) is True
    [(wire, _)] = by_topic(producers)[f"{PREFIX}.evt"]
    assert wire is not None
    assert ModelOnexEnvelope.from_wire(wire).error_code == "internal_error"


async def test_a_producer_that_cannot_be_restarted_holds_the_record_and_then_answers_it() -> None:
    producers = Producers(
        failing(UnknownProducerId()), start_errors=[None, KafkaConnectionError(), KafkaConnectionError(), None]
    )
    proc, _metrics = processor(producers, startup_timeout_seconds=0.1)
    proc.on_envelope = echo
    assert await proc.process(record(command().to_wire()), Ownership()) is True
    assert list(by_topic(producers)) == [f"{PREFIX}.evt"]


async def test_a_reply_too_large_even_as_an_error_reply_is_dead_lettered() -> None:
    producers = Producers(lambda t, _k, v: MessageSizeTooLargeError() if t.endswith(".evt") else None)
    proc, metrics = processor(producers)
    proc.on_envelope = echo
    assert await proc.process(record(command().to_wire()), Ownership()) is True
    [(_letter, headers)] = by_topic(producers)[f"{PREFIX}.cmd.dlq"]
    assert headers["onex.dlq.reason"] == b"internal_error"
    assert b"too_large" in headers["onex.dlq.detail"]
    assert 'onex_dead_letters_total{mode="primary",reason="internal_error"} 1.0' in metrics.render().decode()


async def test_a_reply_to_the_contract_does_not_allow_is_not_run_dead_lettered_and_answered_here() -> None:
    producers = Producers(failing())
    proc, _metrics = processor(producers)
    runs = 0

    async def counting(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        nonlocal runs
        runs += 1
        return envelope.reply_success()

    proc.on_envelope = counting
    request = command(metadata={"reply_to": "attacker.topic"})
    assert await proc.process(record(request.to_wire()), Ownership()) is True
    assert runs == 0
    sent = by_topic(producers)
    assert sorted(sent) == [f"{PREFIX}.cmd.dlq", f"{PREFIX}.evt"]
    assert sent[f"{PREFIX}.cmd.dlq"][0][1]["onex.dlq.reason"] == b"reply_refused"
    wire = sent[f"{PREFIX}.evt"][0][0]
    assert wire is not None
    reply = ModelOnexEnvelope.from_wire(wire)
    assert (reply.error_code, reply.correlation_id) == ("forbidden", request.correlation_id)


@pytest.mark.parametrize(
    "error", [UnknownTopicOrPartitionError(), TopicAuthorizationFailedError(), InvalidTopicError()], ids=type
)
async def test_an_allowed_reply_to_the_broker_refuses_is_dead_lettered_not_retried(error: Exception) -> None:
    producers = Producers(refusing("caller.replies", error))
    proc, _metrics = processor(producers, allowed_reply_topic_prefixes=["caller."])
    proc.on_envelope = echo
    async with asyncio.timeout(2):
        assert await proc.process(record(command(metadata={"reply_to": "caller.replies"}).to_wire()), Ownership())
    sent = by_topic(producers)
    assert sent[f"{PREFIX}.cmd.dlq"][0][1]["onex.dlq.reason"] == b"reply_refused"
    assert type(error).__name__.encode() in sent[f"{PREFIX}.cmd.dlq"][0][1]["onex.dlq.detail"]
    [(wire, _)] = sent[f"{PREFIX}.evt"]
    assert wire is not None
    assert ModelOnexEnvelope.from_wire(wire).error_code == "forbidden"


async def test_a_reply_topic_the_broker_refuses_is_dead_lettered_as_undeliverable() -> None:
    producers = Producers(refusing(f"{PREFIX}.evt", TopicAuthorizationFailedError()))
    proc, _metrics = processor(producers)
    proc.on_envelope = echo
    assert await proc.process(record(command().to_wire()), Ownership()) is True
    assert by_topic(producers)[f"{PREFIX}.cmd.dlq"][0][1]["onex.dlq.reason"] == b"reply_undeliverable"


async def test_a_dead_letter_topic_that_refuses_holds_the_record_until_it_accepts() -> None:
    refusals = 2

    def dlq_refuses_twice(topic: str, _k: bytes | None, _v: bytes | None) -> BaseException | None:
        nonlocal refusals
        if topic.endswith(".dlq") and refusals:
            refusals -= 1
            return UnknownTopicOrPartitionError()
        return None

    producers = Producers(dlq_refuses_twice)
    proc, _metrics = processor(producers)
    async with asyncio.timeout(10):
        assert await proc.process(record(b"not json"), Ownership()) is True
    assert refusals == 0
    assert len(by_topic(producers)[f"{PREFIX}.cmd.dlq"]) == 1


async def test_a_dead_letter_topic_that_never_accepts_never_reports_the_record_done() -> None:
    producers = Producers(refusing(f"{PREFIX}.cmd.dlq", TopicAuthorizationFailedError()))
    proc, _metrics = processor(producers)
    ownership = Ownership()
    task = asyncio.create_task(proc.process(record(b"not json"), ownership))
    await asyncio.sleep(1.0)
    assert not task.done()
    ownership.lose()
    async with asyncio.timeout(2):
        assert await task is False


async def test_a_bug_in_processing_dead_letters_the_record_as_internal_error() -> None:
    producers = Producers(failing())
    proc, _metrics = processor(producers)
    proc.on_envelope = echo
    proc._rules = None  # type: ignore[assignment]  # any bug past the codec
    assert await proc.process(record(command().to_wire()), Ownership()) is True
    [(_letter, headers)] = by_topic(producers)[f"{PREFIX}.cmd.dlq"]
    assert headers["onex.dlq.reason"] == b"internal_error"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"[" * 100_000, b"undecodable"),
        (b'{"a": ' + b"9" * 5000 + b"}", b"undecodable"),
        (b'{"source_node": "s", "handler_type": "local", "operation": "o", "ttl_seconds": 1e400}', b"invalid_envelope"),
        (
            b'{"source_node": "s", "handler_type": "local", "operation": "o", "ttl_seconds": Infinity}',
            b"invalid_envelope",
        ),
        (
            b'{"source_node": "s", "handler_type": "local", "operation": "o", "timestamp": "9999-12-31T23:59:59Z"}',
            b"invalid_envelope",
        ),
    ],
    ids=["deep", "huge-int", "ttl-1e400", "ttl-infinity", "far-timestamp"],
)
async def test_records_beyond_the_decoders_bounds_are_dead_lettered_with_a_reason(value: bytes, reason: bytes) -> None:
    producers = Producers(failing())
    proc, _metrics = processor(producers)
    proc.on_envelope = echo
    assert await proc.process(record(value), Ownership()) is True
    [(_letter, headers)] = by_topic(producers)[f"{PREFIX}.cmd.dlq"]
    assert headers["onex.dlq.reason"] == reason


class LateFailingProducer:
    """Takes every record at once (the handoff) and fails the first acknowledgement later, as a broker can."""

    def __init__(self) -> None:
        self.acks: list[asyncio.Future[None]] = []
        self.sent: list[tuple[str, bytes | None]] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, topic: str, *, value: bytes | None, key: bytes | None, headers: Any = None) -> Any:
        self.sent.append((topic, value))
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        return ack


async def test_a_reply_whose_acknowledgement_fails_after_the_slot_was_freed_is_still_delivered() -> None:
    from onex_host.infra.bus.kafka.dispatcher import KeyedDispatcher

    producer = LateFailingProducer()
    config = bus_config("127.0.0.1:1", PREFIX, retry={"initial_backoff_seconds": 0.01, "max_backoff_seconds": 0.02})
    metrics = HostMetrics(mode=config.mode)
    proc = CommandProcessor(config, KafkaSender(config, build_producer=lambda: producer), metrics)  # type: ignore[arg-type,return-value]

    async def echo(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        return envelope.reply_success({"ok": True})

    proc.on_envelope = echo
    dispatcher: KeyedDispatcher[int, InboundRecord] = KeyedDispatcher(1, proc.process)
    dispatcher.assign(0)
    dispatcher.submit(0, b"k", 0, record(command().to_wire()))
    while not producer.acks:
        await asyncio.sleep(0)
    assert (dispatcher.accepted, dispatcher.free_slots) == (0, 1)  # handed off: the slot is free already
    producer.acks[0].set_exception(KafkaConnectionError())  # the broker fails it after the handoff
    while len(producer.acks) < 2:
        await asyncio.sleep(0.005)
    assert dispatcher.tracker.pending_commits() == {}  # not acknowledged yet: not committable
    producer.acks[1].set_result(None)
    assert await dispatcher.drain(5)
    assert dispatcher.tracker.pending_commits() == {0: 1}
    assert [topic for topic, _ in producer.sent] == [f"{PREFIX}.evt", f"{PREFIX}.evt"]
