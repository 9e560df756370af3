"""Delivery of replies and dead letters: produce until acknowledged, and say how it ended.

Kept apart from the consume loop the way aiokafka keeps ``producer/sender.py``
apart from ``producer/producer.py``: this module owns the shared producer
and everything that can go wrong producing one record, and reports the end
as a ``SendResult`` instead of raising into the dispatcher, so the caller
decides what an undelivered record means for its offset.

* Broker outages and retriable errors are waited out with ``clients.retry_after_failure``
  for as long as the partition is owned: the record stays uncommitted
  meanwhile, so nothing is lost if this host dies waiting.
* A non-retriable error (e.g. OutOfOrderSequenceNumber after a broker
  restart) leaves the idempotent producer's sequence state unusable: the
  producer is replaced, once, however many sends saw it fail.
* A record larger than the broker accepts gets one fallback: a reply becomes
  an ``internal_error`` reply saying so; a dead letter keeps its headers and
  drops the original bytes, recording their size.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from onex_host.core.enums import EnumErrorCode
from onex_host.infra import tracing
from onex_host.infra.bus.kafka.clients import new_producer, retry_after_failure, start_client, stop_within
from onex_host.infra.bus.kafka.codec import DeadLetterRecord
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.bus.kafka.dispatcher import Ownership
from onex_host.infra.bus.kafka.outcome import PublishReply

logger = logging.getLogger(__name__)

HEADER_VALUE_DROPPED = "onex.dlq.value_dropped_bytes"

Headers = list[tuple[str, bytes]]


class SendFailure(StrEnum):
    """Why a record was not delivered."""

    OWNERSHIP_LOST = "ownership_lost"
    """The partition was revoked while waiting; its next owner sends the record again."""
    TOO_LARGE = "too_large"
    """Even the fallback record is larger than the broker accepts."""
    PRODUCER_UNAVAILABLE = "producer_unavailable"
    """No producer could be started (brokers unreachable for ``startup_timeout_seconds``)."""
    UNEXPECTED = "unexpected"
    """Anything else: an error nobody classified (e.g. a reply that cannot be serialised)."""


@dataclass(frozen=True, slots=True)
class SendResult:
    failure: SendFailure | None = None
    error: BaseException | None = None

    @property
    def delivered(self) -> bool:
        return self.failure is None


DELIVERED = SendResult()


def _worth_retrying(error: BaseException) -> bool:
    """Kafka errors are waited out; a record too large stays too large, so it goes to the fallback instead."""
    return isinstance(error, KafkaError) and not isinstance(error, MessageSizeTooLargeError)


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

    async def send_reply(self, publish: PublishReply, ownership: Ownership) -> SendResult:
        """Publish the reply (keyed by correlation id); one too large for its topic becomes an error reply."""
        request, reply, topic = publish.request, publish.reply, publish.topic
        key = str(reply.correlation_id).encode()
        try:
            wire = reply.to_wire()
        except Exception as exc:
            return SendResult(SendFailure.UNEXPECTED, exc)
        headers = tracing.reply_trace_record_headers() if tracing.active() else []
        result = await self._produce(topic, key, wire, headers, ownership)
        if result.failure is not SendFailure.TOO_LARGE:
            return result
        too_large = request.reply_error(
            EnumErrorCode.INTERNAL_ERROR, f"the reply ({len(wire)} bytes) is too large for topic {topic!r}"
        )
        return await self._produce(topic, key, too_large.to_wire(), headers, ownership)

    async def send_dead_letter(self, letter: DeadLetterRecord, ownership: Ownership) -> SendResult:
        """Store ``letter`` on the dead-letter topic; if too large, keep the evidence (headers, size), not the bytes."""
        topic = self._config.effective_dead_letter_topic
        result = await self._produce(topic, letter.key, letter.value, letter.headers, ownership)
        if result.failure is not SendFailure.TOO_LARGE:
            return result
        headers = [*letter.headers, (HEADER_VALUE_DROPPED, str(len(letter.value or b"")).encode())]
        return await self._produce(topic, letter.key, None, headers, ownership)

    async def _produce(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers, ownership: Ownership
    ) -> SendResult:
        """Produce until acknowledged by all in-sync replicas, or until ownership is lost."""

        async def sleep_while_owned(seconds: float) -> None:
            if not await ownership.sleep(seconds):
                raise _OwnershipLostError

        def log_retry(error: BaseException | None) -> None:
            logger.warning("kafka produce failed; retrying", extra={"topic": topic, "error": repr(error)})

        async def send_once() -> None:
            producer = await self._ensure_producer()
            try:
                await producer.send_and_wait(topic, value=value, key=key, headers=headers)
            except MessageSizeTooLargeError:
                raise
            except KafkaError as exc:
                if not exc.retriable:
                    await self._replace_producer(producer)
                raise

        try:
            try:
                await send_once()
            except Exception as exc:
                if not _worth_retrying(exc):
                    raise
                await retry_after_failure(
                    send_once, exc, worth_retrying=_worth_retrying, log=log_retry, sleep=sleep_while_owned
                )
        except _OwnershipLostError:
            return SendResult(SendFailure.OWNERSHIP_LOST)
        except MessageSizeTooLargeError as exc:
            return SendResult(SendFailure.TOO_LARGE, exc)
        except ConnectionError as exc:  # KafkaUnavailableError from replacing the producer
            return SendResult(SendFailure.PRODUCER_UNAVAILABLE, exc)
        except Exception as exc:
            return SendResult(SendFailure.UNEXPECTED, exc)
        return DELIVERED

    async def _ensure_producer(self) -> AIOKafkaProducer:
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
        logger.warning("kafka producer replaced after a non-retriable error")
        await stop_within(broken.stop(), self._config.request_timeout_ms / 1000, "broken producer stop")
