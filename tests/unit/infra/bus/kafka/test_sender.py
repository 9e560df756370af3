"""The sender reports how a delivery ended instead of raising: scripted producer errors, no broker.

The real-broker side of the same paths (broker restarts, oversized records)
is covered by tests/integration/test_kafka_*; here each error class is
forced at the producer seam so every branch runs deterministically.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import (
    CorruptRecordException,
    InvalidProducerEpoch,
    InvalidTopicError,
    KafkaConnectionError,
    KafkaError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    TopicAuthorizationFailedError,
    UnknownProducerId,
    UnknownTopicOrPartitionError,
)

from onex_host.core.enums import EnumErrorCode
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.kafka.codec import DeadLetterReason, InboundRecord, dead_letter
from onex_host.infra.bus.kafka.deadlines import CoarseDeadlines
from onex_host.infra.bus.kafka.dispatcher import Ownership
from onex_host.infra.bus.kafka.outcome import PublishReply
from onex_host.infra.bus.kafka.sender import DELIVERED, HEADER_VALUE_DROPPED, KafkaSender, SendFailure
from tests.support.builders.factories import command
from tests.support.builders.kafka_bus import bus_config
from tests.support.doubles.kafka_doubles import Producers, ScriptedProducer, failing, too_large_when


def sender(producers: Producers, **overrides: Any) -> KafkaSender:
    return KafkaSender(bus_config("127.0.0.1:1", "t.sender", **overrides), build_producer=producers)


def publish(request: ModelOnexEnvelope | None = None, **payload: Any) -> PublishReply:
    request = request or command()
    return PublishReply(request, request.reply_success(payload or {"ok": True}), "replies")


async def test_a_retriable_error_is_waited_out_on_the_same_producer() -> None:
    producers = Producers(failing(KafkaConnectionError(), KafkaConnectionError()))
    result = await sender(producers).send_reply(publish(), Ownership())
    assert result == DELIVERED
    assert len(producers.built) == 1
    assert [topic for topic, *_ in producers.delivered] == ["replies"]


async def test_a_producer_state_error_replaces_the_producer_once_and_the_record_is_delivered() -> None:
    producers = Producers(failing(OutOfOrderSequenceNumber()))
    result = await sender(producers).send_reply(publish(), Ownership())
    assert result.delivered
    assert len(producers.built) == 2
    assert producers.built[0].stopped is True
    assert producers.built[0].sent == []
    assert len(producers.built[1].sent) == 1


async def test_losing_ownership_while_waiting_ends_the_send_undelivered() -> None:
    producers = Producers(lambda _t, _k, _v: KafkaConnectionError())  # brokers never come back
    ownership = Ownership()
    send = asyncio.create_task(sender(producers).send_reply(publish(), ownership))
    await asyncio.sleep(0.05)
    ownership.lose()
    async with asyncio.timeout(2):
        result = await send
    assert result.failure is SendFailure.OWNERSHIP_LOST
    assert producers.delivered == []


async def test_a_reply_too_large_for_its_topic_becomes_an_error_reply() -> None:
    big = publish(blob="x" * 5000)
    producers = Producers(too_large_when(lambda value: value is not None and len(value) > 4000))
    result = await sender(producers).send_reply(big, Ownership())
    assert result.delivered
    [(topic, key, value, _headers)] = producers.delivered
    assert (topic, key) == ("replies", str(big.reply.correlation_id).encode())
    assert value is not None
    replacement = ModelOnexEnvelope.from_wire(value)
    assert (replacement.success, replacement.error_code) == (False, EnumErrorCode.INTERNAL_ERROR)
    assert "too large for topic 'replies'" in (replacement.error or "")
    assert replacement.correlation_id == big.request.correlation_id


async def test_a_reply_whose_fallback_is_too_large_too_is_reported_not_raised() -> None:
    producers = Producers(too_large_when(lambda _value: True))
    result = await sender(producers).send_reply(publish(), Ownership())
    assert result.failure is SendFailure.TOO_LARGE
    assert isinstance(result.error, MessageSizeTooLargeError)


async def test_a_dead_letter_too_large_keeps_its_headers_and_records_the_dropped_size() -> None:
    record = InboundRecord(topic="cmd", partition=0, offset=7, key=b"k", value=b"v" * 3000)
    letter = dead_letter(record, DeadLetterReason.OVERSIZED, "too big", attempts=0)
    producers = Producers(too_large_when(lambda value: value is not None))
    producer_sender = sender(producers)
    result = await producer_sender.send_dead_letter(letter, Ownership())
    assert result.delivered
    [(topic, key, value, headers)] = producers.delivered
    assert (topic, key, value) == ("t.sender.cmd.dlq", b"k", None)
    assert dict(headers)[HEADER_VALUE_DROPPED] == b"3000"
    assert dict(headers)["onex.dlq.reason"] == b"oversized"


async def test_a_reply_that_cannot_be_serialised_is_answered_with_internal_error() -> None:
    request = command()
    unserialisable = PublishReply(request, request.reply_success({"value": object()}), "replies")
    producers = Producers(failing())
    result = await sender(producers).send_reply(unserialisable, Ownership())
    assert result.delivered
    [(topic, _key, value, _headers)] = producers.delivered
    assert topic == "replies"
    assert value is not None
    reply = ModelOnexEnvelope.from_wire(value)
    assert (reply.success, reply.error_code, reply.correlation_id) == (False, "internal_error", request.correlation_id)


async def test_a_producer_that_cannot_be_restarted_is_waited_for_while_owned_then_delivers() -> None:
    # KafkaUnavailableError is a ConnectionError, not a KafkaError: it used to end the send undelivered.
    producers = Producers(failing(OutOfOrderSequenceNumber()), start_errors=[None, *[KafkaConnectionError()] * 6, None])
    result = await sender(producers, startup_timeout_seconds=0.1).send_reply(publish(), Ownership())
    assert result.delivered
    assert [topic for topic, *_ in producers.delivered] == ["replies"]


async def test_a_producer_that_never_restarts_holds_the_record_until_ownership_is_lost() -> None:
    producers = Producers(failing(OutOfOrderSequenceNumber()), start_errors=[None, *[KafkaConnectionError()] * 1000])
    ownership = Ownership()
    send = asyncio.create_task(sender(producers, startup_timeout_seconds=0.1).send_reply(publish(), ownership))
    await asyncio.sleep(1.0)
    assert not send.done()
    ownership.lose()
    async with asyncio.timeout(5):
        result = await send
    assert result.failure is SendFailure.OWNERSHIP_LOST


@pytest.mark.parametrize(
    "error", [UnknownTopicOrPartitionError(), TopicAuthorizationFailedError(), InvalidTopicError()], ids=type
)
async def test_a_topic_level_error_is_final_for_the_record_and_keeps_the_producer(error: KafkaError) -> None:
    attempts = 0

    def refuse(_topic: str, _key: bytes | None, _value: bytes | None) -> BaseException:
        nonlocal attempts
        attempts += 1
        return error

    producers = Producers(refuse)
    async with asyncio.timeout(2):
        result = await sender(producers).send_reply(publish(), Ownership())
    assert result.failure is SendFailure.TOPIC_REFUSED
    assert result.detail == type(error).__name__
    assert attempts == 1
    assert len(producers.built) == 1


@pytest.mark.parametrize(
    "error",
    [OutOfOrderSequenceNumber(), UnknownProducerId(), ProducerFenced(), InvalidProducerEpoch(), KafkaError()],
    ids=type,
)
async def test_a_producer_state_error_replaces_the_producer_and_delivers(error: KafkaError) -> None:
    producers = Producers(failing(error))
    result = await sender(producers).send_reply(publish(), Ownership())
    assert result.delivered
    assert len(producers.built) == 2


async def test_an_unclassified_non_retriable_error_is_final_and_keeps_the_producer() -> None:
    producers = Producers(lambda _t, _k, _v: CorruptRecordException())
    result = await sender(producers).send_reply(publish(), Ownership())
    assert result.failure is SendFailure.UNEXPECTED
    assert len(producers.built) == 1


@pytest.mark.parametrize("error", [KafkaConnectionError(), ConnectionError(), NotLeaderForPartitionError()], ids=type)
async def test_retriable_and_connection_errors_are_waited_out(error: BaseException) -> None:
    producers = Producers(failing(error, error))
    result = await sender(producers).send_reply(publish(), Ownership())
    assert result.delivered


async def test_a_dead_letter_whose_own_headers_are_too_large_keeps_only_the_hosts_headers() -> None:
    record = InboundRecord(topic="cmd", partition=0, offset=7, key=b"k", value=b"v", headers=(("caller", b"h" * 3000),))
    letter = dead_letter(record, DeadLetterReason.NOT_JSON, "bad", attempts=0)
    tries = 0

    def too_large_twice(_topic: str, _key: bytes | None, _value: bytes | None) -> BaseException | None:
        nonlocal tries
        tries += 1
        return MessageSizeTooLargeError() if tries <= 2 else None

    producers = Producers(too_large_twice)
    result = await sender(producers).send_dead_letter(letter, Ownership())
    assert result.delivered
    [(_topic, key, value, headers)] = producers.delivered
    assert (key, value) == (None, None)
    assert "caller" not in dict(headers)
    assert dict(headers)["onex.dlq.reason"] == b"not_json"


async def test_a_send_whose_acknowledgement_never_comes_is_bounded_and_sent_again() -> None:
    """A send racing the replacement of its producer can wait forever on a closed client: it is bounded."""

    class FirstAcknowledgementLost(ScriptedProducer):
        lost: list[asyncio.Future[None]] = []

        async def send(
            self, topic: str, *, value: bytes | None, key: bytes | None, headers: Any = None
        ) -> asyncio.Future[None]:
            if not self.lost:
                self.lost.append(asyncio.get_running_loop().create_future())
                return self.lost[0]
            return await super().send(topic, value=value, key=key, headers=headers)

    producer = FirstAcknowledgementLost(lambda _t, _k, _v: None)
    delivering = KafkaSender(bus_config("127.0.0.1:1", "t.sender"), build_producer=lambda: producer)  # type: ignore[arg-type,return-value]
    delivering._send_deadlines = CoarseDeadlines(0.05, resolution=0.01)
    async with asyncio.timeout(10):
        result = await delivering.send_reply(publish(), Ownership())
    assert result == DELIVERED
    assert producer.lost[0].cancelled()
    assert [topic for topic, *_ in producer.sent] == ["replies"]
