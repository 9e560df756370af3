"""Delivery of replies and dead letters: produce until acknowledged, and say how it ended.

Kept apart from the consume loop the way aiokafka keeps ``producer/sender.py``
apart from ``producer/producer.py``: this module owns the shared producer
and everything that can go wrong producing one record, and reports the end
as a ``SendResult`` instead of raising into the dispatcher, so the caller
(through ``outcome.decide``) decides what an undelivered record means.

Every error is classified once, here (``classify``):

* Broker outages, retriable Kafka errors and a producer that cannot be
  (re)started (``KafkaUnavailableError``, a ``ConnectionError``) are waited
  out for as long as the partition is owned: the record stays uncommitted
  meanwhile, so nothing is lost if this host dies waiting.
* Producer-state errors (fenced, unknown producer id, out-of-order or
  duplicate sequence, a bare ``KafkaError`` from a crashed send loop) leave
  the idempotent producer unusable: it is replaced, once, however many sends
  saw it fail, and the send is retried. No other error replaces it, so one
  bad record cannot disturb every other in-flight send.
* Topic-level errors (unknown topic, not authorised, invalid name) are final
  for that record: retrying cannot help, and a retry would hold the
  record's partition forever. Reported as ``TOPIC_REFUSED``.
* A record larger than the broker accepts gets one fallback: a reply becomes
  an ``internal_error`` reply saying so; a dead letter keeps its headers and
  drops the original bytes, recording their size. A fallback that is still
  too large is reported as ``TOO_LARGE``.
* A reply pydantic cannot serialise becomes an ``internal_error`` reply
  (``core.replies.reply_wire``); anything else is ``UNEXPECTED``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    DuplicateSequenceNumber,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    UnknownProducerId,
    UnknownTopicOrPartitionError,
)

from onex_host.core.enums import EnumErrorCode
from onex_host.core.replies import reply_wire
from onex_host.infra import tracing
from onex_host.infra.bus.kafka.clients import new_producer, retry_after_failure, start_client, stop_within
from onex_host.infra.bus.kafka.codec import DLQ_HEADER_PREFIX, DeadLetterRecord, InboundRecord
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.bus.kafka.deadlines import CoarseDeadlines
from onex_host.infra.bus.kafka.dispatcher import Ownership, handed_off
from onex_host.infra.bus.kafka.outcome import DeliveryFailure, PublishReply

logger = logging.getLogger(__name__)

HEADER_VALUE_DROPPED = "onex.dlq.value_dropped_bytes"

Headers = list[tuple[str, bytes]]


class SendFailure(StrEnum):
    """Why a record was not delivered."""

    OWNERSHIP_LOST = "ownership_lost"
    """The partition was revoked while waiting; its next owner sends the record again."""
    TOPIC_REFUSED = "topic_refused"
    """The topic does not exist, may not be written or has an illegal name: final for this record."""
    TOO_LARGE = "too_large"
    """Even the fallback record is larger than the broker accepts."""
    UNEXPECTED = "unexpected"
    """Anything else: an error nobody classified."""

    @property
    def delivery_failure(self) -> DeliveryFailure:
        """The final failure as ``outcome`` knows it (lost ownership is not final: never passed there)."""
        return DeliveryFailure(self.value) if self is not SendFailure.OWNERSHIP_LOST else DeliveryFailure.UNEXPECTED


@dataclass(frozen=True, slots=True)
class SendResult:
    failure: SendFailure | None = None
    error: BaseException | None = None

    @property
    def delivered(self) -> bool:
        return self.failure is None

    @property
    def final_failure(self) -> DeliveryFailure:
        """This failure as ``outcome`` knows it; only meaningful for a final (not lost-ownership) failure."""
        return self.failure.delivery_failure if self.failure is not None else DeliveryFailure.UNEXPECTED

    @property
    def detail(self) -> str:
        """The error's class only: broker messages can quote topic names and principals, not worth leaking."""
        return type(self.error).__name__ if self.error is not None else (self.failure or "delivered")


DELIVERED = SendResult()


class ErrorClass(StrEnum):
    RETRY = "retry"
    REPLACE_PRODUCER = "replace_producer"
    TOPIC_REFUSED = "topic_refused"
    TOO_LARGE = "too_large"
    UNEXPECTED = "unexpected"


_TOPIC_ERRORS = (UnknownTopicOrPartitionError, TopicAuthorizationFailedError, InvalidTopicError)
_SIZE_ERRORS = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)
_PRODUCER_STATE_ERRORS = (
    ProducerFenced,
    UnknownProducerId,
    OutOfOrderSequenceNumber,
    DuplicateSequenceNumber,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    ProducerClosed,
)


def classify(error: BaseException) -> ErrorClass:
    """What a produce error means for the record and for the shared producer (see the module docstring)."""
    if isinstance(error, _SIZE_ERRORS):
        return ErrorClass.TOO_LARGE
    if isinstance(error, _TOPIC_ERRORS):
        return ErrorClass.TOPIC_REFUSED
    if isinstance(error, _PRODUCER_STATE_ERRORS) or type(error) is KafkaError:
        # A bare KafkaError is what aiokafka's send loop raises for every pending batch when it crashed.
        return ErrorClass.REPLACE_PRODUCER
    if isinstance(error, KafkaError):
        return ErrorClass.RETRY if error.retriable else ErrorClass.UNEXPECTED
    if isinstance(error, ConnectionError | TimeoutError):
        # KafkaUnavailableError (the producer could not be restarted) is a ConnectionError: wait it out.
        return ErrorClass.RETRY
    return ErrorClass.UNEXPECTED


def reply_record(publish: PublishReply) -> tuple[str, bytes, bytes, Headers]:
    """Topic, key (the correlation id), bytes and trace headers of a reply: one encoding for both delivery modes."""
    request, reply = publish.request, publish.reply
    headers = tracing.reply_trace_record_headers() if tracing.active() else []
    return publish.topic, str(reply.correlation_id).encode(), reply_wire(request, reply), headers


def too_large_reply_record(publish: PublishReply, size: int) -> tuple[str, bytes, bytes, Headers]:
    """What replaces a reply the broker refused as too large: an ``internal_error`` reply saying so."""
    too_large = publish.request.reply_error(
        EnumErrorCode.INTERNAL_ERROR, f"the reply ({size} bytes) is too large for topic {publish.topic!r}"
    )
    headers = tracing.reply_trace_record_headers() if tracing.active() else []
    return publish.topic, str(publish.reply.correlation_id).encode(), too_large.to_wire(), headers


async def _hand_over(
    producer: AIOKafkaProducer, topic: str, key: bytes | None, value: bytes | None, headers: Headers
) -> None:
    """Produce once and wait for the acknowledgement, freeing the operation slot as soon as the producer has it."""
    acknowledged = await producer.send(topic, value=value, key=key, headers=headers)
    handed_off()  # the producer holds it now: the operation slot is free (see ``dispatcher``)
    await acknowledged


def _worth_retrying(error: BaseException) -> bool:
    return classify(error) in {ErrorClass.RETRY, ErrorClass.REPLACE_PRODUCER}


class _OwnershipLostError(Exception):
    """Ends a produce retry early: the record is no longer ours to send."""


class KafkaSender:
    """The bus's one producer, and delivery of replies and dead letters through it."""

    def __init__(self, config: KafkaBusConfig, build_producer: Callable[[], AIOKafkaProducer] | None = None) -> None:
        """``build_producer`` is the seam for tests that script broker errors; default: ``clients.new_producer``."""
        self._config = config
        self._build_producer = build_producer or (lambda: new_producer(config))
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._send_timeout = 2 * config.request_timeout_ms / 1000 + 5
        """Past aiokafka's own bounds (metadata wait, then delivery, each ``request_timeout_ms``): a send that
        has not ended by then never will; it is retried (at-least-once: the broker may hold a duplicate)."""
        self._send_deadlines = CoarseDeadlines(self._send_timeout)
        """One timer for every send in flight, not one per send (``deadlines``)."""

    async def start(self) -> None:
        """Connect the producer; raises ``KafkaUnavailableError`` after ``startup_timeout_seconds``."""
        await self._ensure_producer()

    async def stop(self, within: float) -> None:
        if self._producer is not None:
            await stop_within(self._producer.stop(), within, "producer stop")

    async def produce(self, topic: str, key: bytes, value: bytes) -> None:
        """Produce once and wait for the acknowledgement; raises on any failure (the caller's to handle)."""
        producer = await self._ensure_producer()
        await producer.send_and_wait(topic, value=value, key=key)

    async def send_reply(
        self, publish: PublishReply, ownership: Ownership, record: InboundRecord | None = None
    ) -> SendResult:
        """Publish the reply (keyed by correlation id); one too large for its topic becomes an error reply."""
        try:
            topic, key, wire, headers = reply_record(publish)
        except Exception as exc:  # reply_wire answers every encoding failure it knows; this is a bug
            return SendResult(SendFailure.UNEXPECTED, exc)
        result = await self._produce(topic, key, wire, headers, ownership)
        if result.failure is not SendFailure.TOO_LARGE:
            return result
        topic, key, value, headers = too_large_reply_record(publish, len(wire))
        return await self._produce(topic, key, value, headers, ownership)

    async def send_dead_letter(
        self, letter: DeadLetterRecord, ownership: Ownership, record: InboundRecord | None = None
    ) -> SendResult:
        """Store ``letter`` on the dead-letter topic; if too large, keep the evidence (headers, size), not the bytes."""
        topic = self._config.effective_dead_letter_topic
        result = await self._produce(topic, letter.key, letter.value, letter.headers, ownership)
        if result.failure is not SendFailure.TOO_LARGE:
            return result
        dropped = (HEADER_VALUE_DROPPED, str(len(letter.value or b"")).encode())
        result = await self._produce(topic, letter.key, None, [*letter.headers, dropped], ownership)
        if result.failure is not SendFailure.TOO_LARGE:
            return result
        # The caller's own headers made it too large: keep only the host's, which are bounded.
        own = [(name, value) for name, value in letter.headers if name.startswith(DLQ_HEADER_PREFIX)]
        return await self._produce(topic, None, None, [*own, dropped], ownership)

    async def _produce(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers, ownership: Ownership
    ) -> SendResult:
        """Produce until acknowledged by all in-sync replicas, or until ownership is lost."""
        try:
            try:
                await self._send_once(topic, key, value, headers)
            except Exception as exc:
                if not _worth_retrying(exc):
                    raise
                await self._retry(exc, topic, key, value, headers, ownership)
        except _OwnershipLostError:
            return SendResult(SendFailure.OWNERSHIP_LOST)
        except Exception as exc:
            final = classify(exc)
            if final is ErrorClass.TOO_LARGE:
                return SendResult(SendFailure.TOO_LARGE, exc)
            if final is ErrorClass.TOPIC_REFUSED:
                return SendResult(SendFailure.TOPIC_REFUSED, exc)
            return SendResult(SendFailure.UNEXPECTED, exc)
        return DELIVERED

    async def _send_once(self, topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        producer = await self._ensure_producer()
        try:
            # Bounded: a send racing the replacement of its producer can wait forever on a closed client.
            await self._send_deadlines.bounded(_hand_over(producer, topic, key, value, headers))
        except Exception as exc:
            if classify(exc) is ErrorClass.REPLACE_PRODUCER:
                await self._replace_producer(producer)
            raise

    async def _retry(
        self,
        first: BaseException,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers,
        ownership: Ownership,
    ) -> None:
        """After a first failure worth retrying: the retry loop (its closures exist only on this slow path)."""

        async def sleep_while_owned(seconds: float) -> None:
            if not await ownership.sleep(seconds):
                raise _OwnershipLostError

        def log_retry(error: BaseException | None) -> None:
            logger.warning("kafka produce failed; retrying", extra={"topic": topic, "error": repr(error)})

        async def send_once() -> None:
            await self._send_once(topic, key, value, headers)

        await retry_after_failure(
            send_once, first, worth_retrying=_worth_retrying, log=log_retry, sleep=sleep_while_owned
        )

    async def _ensure_producer(self) -> AIOKafkaProducer:
        producer = self._producer
        if producer is not None:  # the fast path takes no lock: only (re)starting needs one
            return producer
        async with self._lock:
            if self._producer is None:
                self._producer = await start_client(self._build_producer, self._config, "producer")
            return self._producer

    async def _replace_producer(self, broken: AIOKafkaProducer) -> None:
        """Swap out ``broken`` once, however many sends saw it fail."""
        async with self._lock:
            still_current = self._producer is broken
            if still_current:
                self._producer = None
        if not still_current:
            return
        logger.warning("kafka producer replaced after a producer-state error")
        await stop_within(broken.stop(), self._config.request_timeout_ms / 1000, "broken producer stop")
