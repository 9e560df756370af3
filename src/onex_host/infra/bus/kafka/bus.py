"""``KafkaEventBus``: the consume loop, the rebalance listener and reply publishing.

Division of labour (as in aiokafka itself): ``codec`` turns bytes into
envelopes or dead letters, ``offsets`` decides what may be committed,
``dispatcher`` runs envelopes concurrently within the bound and the ordering
promise; this module only moves records between Kafka and those pieces.

Delivery: at-least-once. Auto-commit is off; a partition's offset is
committed only up to the oldest record whose reply is not yet published (or
which is not yet dead-lettered). A crash, a kill or a lost partition replays
unfinished records on the next owner; nothing is dropped.

The consume loop never runs a handler: it polls, hands records to the
dispatcher and returns to polling, so a slow handler cannot push the consumer
past ``max_poll_interval_ms``. When the dispatcher is full the loop pauses
every assigned partition and keeps polling (an empty poll keeps the group
membership alive) until a slot frees.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import ConsumerStoppedError, KafkaError, MessageSizeTooLargeError

from onex_host.core.enums import RETRYABLE_ERROR_CODES, EnumErrorCode
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.operation import ModelBusHealth
from onex_host.infra.bus.kafka.codec import (
    POISON_ERROR_CODES,
    DeadLetterReason,
    DecodeFailure,
    InboundRecord,
    dead_letter,
    decode_command,
)
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.bus.kafka.dispatcher import KeyedDispatcher, Ownership
from onex_host.infra.metrics import HostMetrics
from onex_host.spi.event_bus import EnvelopeCallback

logger = logging.getLogger(__name__)

HEADER_VALUE_DROPPED = "onex.dlq.value_dropped_bytes"
_PRODUCE_BACKOFF_START = 0.2
_PRODUCE_BACKOFF_MAX = 5.0
_REQUEST_HEADROOM_BYTES = 64 * 1024


class KafkaUnavailableError(ConnectionError):
    """The brokers could not be reached within ``startup_timeout_seconds``."""


class KafkaEventBus:
    """``ProtocolEventBus`` over Apache Kafka; see the module docstring for the guarantees."""

    def __init__(self, config: KafkaBusConfig, *, max_concurrent: int, metrics: HostMetrics) -> None:
        self.config = config
        self._metrics = metrics
        self._mode = metrics.mode
        self._dispatcher: KeyedDispatcher[TopicPartition, InboundRecord] = KeyedDispatcher(
            max_concurrent, self._process_record
        )
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._producer_lock = asyncio.Lock()
        self._on_envelope: EnvelopeCallback | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._commit_task: asyncio.Task[None] | None = None
        self._commit_lock = asyncio.Lock()
        self._accepting = False
        self._stopping = False
        self._stopped = asyncio.Event()
        self._last_poll = 0.0
        self._last_commit = 0.0
        self._lag: dict[TopicPartition, int] = {}

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self, on_envelope: EnvelopeCallback) -> None:
        """Connect, join the consumer group and start the consume loop in the background.

        Raises ``KafkaUnavailableError`` if the brokers stay unreachable for
        ``startup_timeout_seconds``; the group join itself completes in the background.
        """
        if self._loop_task is not None:
            return
        self._on_envelope = on_envelope
        await self._ensure_producer()
        self._consumer = await _start_with_retry(self._new_consumer, self.config, "consumer")
        self._accepting = True
        self._last_poll = time.monotonic()
        self._loop_task = asyncio.create_task(self._consume_loop(), name="kafka-bus-consume")
        logger.info(
            "kafka event bus started",
            extra={
                "group": self.config.effective_consumer_group,
                "command_topic": self.config.command_topic,
                "reply_topic": self.config.reply_topic,
                "mode": self.config.mode,
            },
        )

    def _new_consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            **self.config.client_settings(),
            group_id=self.config.effective_consumer_group,
            enable_auto_commit=False,
            auto_offset_reset=self.config.auto_offset_reset,
            max_poll_interval_ms=self.config.max_poll_interval_ms,
            session_timeout_ms=self.config.session_timeout_ms,
            heartbeat_interval_ms=self.config.heartbeat_interval_ms,
            rebalance_timeout_ms=self.config.max_poll_interval_ms,
            isolation_level="read_committed",
        )
        consumer.subscribe([self.config.command_topic], listener=_RebalanceListener(self))
        return consumer

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            **self.config.client_settings(),
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            # Replies are ~1 KiB and up to max_concurrent_operations await their ack at
            # once; aiokafka's 16 KiB default batch makes most of them queue for a drain.
            max_batch_size=self.config.producer_batch_bytes,
            max_request_size=max(self.config.max_message_bytes, 1_048_576) + _REQUEST_HEADROOM_BYTES,
        )

    async def _ensure_producer(self) -> AIOKafkaProducer:
        async with self._producer_lock:
            if self._producer is None:
                self._producer = await _start_with_retry(self._new_producer, self.config, "producer")
            return self._producer

    async def stop(self, timeout_seconds: float) -> None:
        """Stop fetching, finish accepted envelopes, commit, leave the group; idempotent.

        Envelopes still unfinished when ``timeout_seconds`` is nearly used up are
        cancelled and stay uncommitted, so another host answers them.
        """
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        self._accepting = False
        try:
            deadline = time.monotonic() + timeout_seconds
            # Keep a slice of the budget for the final commit and leaving the group.
            reserve = min(5.0, timeout_seconds * 0.2)
            if self._consumer is not None:
                drained = await self._dispatcher.drain(max(timeout_seconds - reserve, 0.0))
                if not drained:
                    logger.warning("kafka bus stop: in-flight envelopes cancelled at the drain deadline")
                await self._commit(within=max(deadline - time.monotonic(), 1.0))
            if self._loop_task is not None:
                self._loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._loop_task
            if self._commit_task is not None:
                with contextlib.suppress(Exception):
                    await self._commit_task
            if self._consumer is not None:
                await _bounded(self._consumer.stop(), max(deadline - time.monotonic(), 1.0), "consumer stop")
            if self._producer is not None:
                await _bounded(self._producer.stop(), max(deadline - time.monotonic(), 1.0), "producer stop")
        finally:
            self._stopped.set()
            logger.info("kafka event bus stopped")

    # -- consume loop ---------------------------------------------------------------------

    async def _consume_loop(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        poll_ms = self.config.poll_timeout_ms
        error_backoff = _PRODUCE_BACKOFF_START
        while True:
            self._last_poll = time.monotonic()
            free = self._dispatcher.free_slots
            taking = self._accepting and free > 0
            try:
                if taking:
                    if consumer.paused():
                        consumer.resume(*consumer.paused())
                else:
                    # Saturated or draining: fetch nothing, but keep polling to stay in the group.
                    if self._accepting:
                        if await self._dispatcher.wait_for_free_slot(poll_ms / 1000):
                            # A slot freed in time: take from what was prefetched. Pausing now
                            # would make aiokafka drop that buffer and fetch it all again.
                            continue
                    else:
                        await asyncio.sleep(poll_ms / 1000)
                    consumer.pause(*consumer.assignment())
                batches = await consumer.getmany(timeout_ms=poll_ms if taking else 0, max_records=max(free, 1))
                for tp, records in batches.items():
                    self._accept_batch(consumer, tp, records)
                error_backoff = _PRODUCE_BACKOFF_START
            except ConsumerStoppedError:
                return
            except KafkaError as exc:
                logger.warning("kafka poll failed; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(error_backoff)
                error_backoff = min(error_backoff * 2, _PRODUCE_BACKOFF_MAX)
            self._maybe_commit_in_background()

    def _accept_batch(self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        """Hand records to the dispatcher; ones it cannot take now are fetched again later."""
        for record in records:
            if not self._accepting or self._dispatcher.free_slots <= 0 or tp not in self._dispatcher.partitions:
                # Rewind so the record is fetched again: nothing is skipped and nothing is buffered here.
                consumer.seek(tp, record.offset)
                return
            inbound = InboundRecord(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value,
                headers=tuple(record.headers or ()),
            )
            self._dispatcher.submit(tp, record.key, record.offset, inbound)

    # -- processing one record -------------------------------------------------------------

    async def _process_record(self, record: InboundRecord, ownership: Ownership) -> bool:
        decoded = decode_command(record.value, max_bytes=self.config.max_message_bytes)
        if isinstance(decoded, DecodeFailure):
            logger.warning(
                "undecodable command dead-lettered",
                extra={"reason": decoded.reason.value, "partition": record.partition, "offset": record.offset},
            )
            if not await self._dead_letter(record, decoded.reason, decoded.detail, 0, None, ownership):
                return False
            if decoded.answerable is not None:
                reply = decoded.answerable.reply_error(
                    EnumErrorCode.INVALID_ENVELOPE,
                    f"{decoded.reason.value}: {decoded.detail}",
                    {"dead_letter_topic": self.config.effective_dead_letter_topic},
                )
                return await self._publish_reply(decoded.answerable, reply, ownership)
            return True

        request = decoded
        attempts = 0
        while True:
            attempts += 1
            reply = await self._run(request)
            if not _is_retryable(reply) or not self.config.retry.allows_another_attempt(attempts):
                break
            delay = self.config.retry.backoff_after(attempts)
            remaining = request.remaining_seconds()
            if remaining is not None and remaining <= delay:
                break  # the next attempt would only find the envelope expired
            self._metrics.retries.labels(
                node=request.target_node or "", operation=request.operation, mode=self._mode
            ).inc()
            if not await ownership.sleep(delay):
                return False  # the partition moved to another host, which will run it

        reason = DeadLetterReason.HANDLER_FAILED if _is_retryable(reply) else None
        if reply.error_code is not None and reply.error_code in POISON_ERROR_CODES:
            reason = POISON_ERROR_CODES[reply.error_code]
        if reason is not None and not await self._dead_letter(
            record, reason, reply.error or "", attempts, reply.error_code, ownership
        ):
            return False
        return await self._publish_reply(request, reply, ownership)

    async def _run(self, request: ModelOnexEnvelope) -> ModelOnexEnvelope:
        assert self._on_envelope is not None
        try:
            return await self._on_envelope(request)
        except Exception as exc:  # the runtime answers with error replies; a raise is a bug upstream
            logger.exception("envelope callback raised", extra={"correlation_id": str(request.correlation_id)})
            return request.reply_error(
                EnumErrorCode.INTERNAL_ERROR,
                f"host failed to run the envelope ({type(exc).__name__}); see logs for {request.correlation_id}",
            )

    def _reply_destination(self, request: ModelOnexEnvelope) -> str:
        reply_to = request.metadata.get("reply_to")
        if self.config.mode == "primary" and isinstance(reply_to, str) and reply_to:
            return reply_to
        return self.config.reply_topic

    async def _publish_reply(self, request: ModelOnexEnvelope, reply: ModelOnexEnvelope, ownership: Ownership) -> bool:
        topic = self._reply_destination(request)
        key = str(reply.correlation_id).encode()
        try:
            return await self._produce(topic, key, reply.to_wire(), [], ownership)
        except MessageSizeTooLargeError:
            too_large = request.reply_error(
                EnumErrorCode.INTERNAL_ERROR,
                f"the reply ({len(reply.to_wire())} bytes) is too large for topic {topic!r}",
            )
            return await self._produce(topic, key, too_large.to_wire(), [], ownership)

    async def _dead_letter(
        self,
        record: InboundRecord,
        reason: DeadLetterReason,
        detail: str,
        attempts: int,
        error_code: EnumErrorCode | None,
        ownership: Ownership,
    ) -> bool:
        letter = dead_letter(record, reason, detail, attempts=attempts, error_code=error_code)
        topic = self.config.effective_dead_letter_topic
        try:
            done = await self._produce(topic, letter.key, letter.value, letter.headers, ownership)
        except MessageSizeTooLargeError:
            # The original bytes cannot be stored; keep the evidence (headers, size) rather than stall.
            size = len(record.value or b"")
            headers = [*letter.headers, (HEADER_VALUE_DROPPED, str(size).encode())]
            done = await self._produce(topic, letter.key, None, headers, ownership)
        if done:
            self._metrics.dead_letters.labels(reason=reason.value, mode=self._mode).inc()
        return done

    async def _produce(
        self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]], ownership: Ownership
    ) -> bool:
        """Produce until acknowledged by all in-sync replicas; ``False`` if ownership was lost first.

        Broker outages are waited out (with growing pauses): the record stays
        uncommitted meanwhile, so nothing is lost if this host dies waiting.
        """
        backoff = _PRODUCE_BACKOFF_START
        while True:
            producer = await self._ensure_producer()
            try:
                await producer.send_and_wait(topic, value=value, key=key, headers=headers)
                return True
            except MessageSizeTooLargeError:
                raise
            except KafkaError as exc:
                logger.warning("kafka produce failed; retrying", extra={"topic": topic, "error": repr(exc)})
                if not exc.retriable:
                    # e.g. OutOfOrderSequenceNumber after a broker restart: this idempotent
                    # producer's sequence state is unusable; a new producer id starts clean.
                    await self._replace_producer(producer)
            if not await ownership.sleep(backoff):
                return False
            backoff = min(backoff * 2, _PRODUCE_BACKOFF_MAX)

    async def _replace_producer(self, broken: AIOKafkaProducer) -> None:
        """Swap out ``broken`` once, however many sends saw it fail."""
        async with self._producer_lock:
            still_current = self._producer is broken
            if still_current:
                self._producer = None
        if not still_current:
            return
        logger.warning("kafka producer replaced after a non-retriable error")
        await _bounded(broken.stop(), self.config.request_timeout_ms / 1000, "broken producer stop")

    # -- publishing -----------------------------------------------------------------------

    async def publish(self, envelope: ModelOnexEnvelope, topic: str | None = None) -> None:
        """Produce one envelope: replies default to the reply topic, commands to the command topic.

        Commands are keyed by ``metadata.partition_key`` when set (that key's
        commands then run in order), else by correlation id; replies always by
        correlation id.
        """
        if topic is None:
            topic = self.config.reply_topic if envelope.is_response else self.config.command_topic
        partition_key = envelope.metadata.get("partition_key")
        key = partition_key if not envelope.is_response and isinstance(partition_key, str) else None
        producer = await self._ensure_producer()
        await producer.send_and_wait(
            topic, value=envelope.to_wire(), key=(key or str(envelope.correlation_id)).encode()
        )

    # -- commits and rebalances --------------------------------------------------------------

    def _maybe_commit_in_background(self) -> None:
        now = time.monotonic()
        if now - self._last_commit < self.config.commit_interval_seconds:
            return
        if self._commit_task is not None and not self._commit_task.done():
            return
        self._last_commit = now
        self._commit_task = asyncio.create_task(self._periodic_commit(), name="kafka-bus-commit")

    async def _periodic_commit(self) -> None:
        await self._commit(within=self.config.request_timeout_ms / 1000)
        await self._update_lag()

    async def _commit(self, partitions: set[TopicPartition] | None = None, *, within: float) -> None:
        """Commit finished work; a failed commit is logged and retried by the next one (at-least-once)."""
        consumer = self._consumer
        if consumer is None:
            return
        async with self._commit_lock:
            positions = self._dispatcher.tracker.pending_commits(partitions)
            if not positions:
                return
            try:
                await asyncio.wait_for(consumer.commit(positions), within)
            except (KafkaError, TimeoutError) as exc:
                logger.warning(
                    "offset commit failed; finished work may be replayed",
                    extra={"error": repr(exc), "partitions": len(positions)},
                )
                return
            self._dispatcher.tracker.mark_committed(positions)

    async def _update_lag(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        for tp in self._dispatcher.partitions:
            highwater = consumer.highwater(tp)
            offsets = self._dispatcher.tracker.get(tp)
            position = offsets.committable if offsets is not None else None
            if highwater is None:
                continue
            if position is None:
                try:
                    position = await asyncio.wait_for(consumer.position(tp), 1.0)
                except (KafkaError, TimeoutError):
                    continue
            lag = max(highwater - position, 0)
            self._lag[tp] = lag
            self._metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition), mode=self._mode).set(lag)

    async def _on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        owned = [tp for tp in revoked if tp in self._dispatcher.partitions]
        if not owned:
            return
        started = time.monotonic()
        await self._dispatcher.revoke(owned, self.config.revoke_drain_timeout_seconds)
        await self._commit(set(owned), within=self.config.request_timeout_ms / 1000)
        self._dispatcher.release(owned)
        for tp in owned:
            self._lag.pop(tp, None)
            with contextlib.suppress(KeyError):
                self._metrics.consumer_lag.remove(tp.topic, str(tp.partition), self._mode)
        logger.info(
            "partitions revoked",
            extra={"partitions": _names(owned), "seconds": round(time.monotonic() - started, 3)},
        )

    def _on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        for tp in assigned:
            if tp not in self._dispatcher.partitions:
                self._dispatcher.assign(tp)
        logger.info("partitions assigned", extra={"partitions": _names(assigned)})

    # -- health ---------------------------------------------------------------------------------

    def health(self) -> ModelBusHealth:
        """Live: the consume loop polled within ``liveness_timeout_seconds``. Ready: live and assigned."""
        running = self._loop_task is not None and not self._loop_task.done()
        live = running and time.monotonic() - self._last_poll < self.config.liveness_timeout_seconds
        assigned = self._dispatcher.partitions
        return ModelBusHealth(
            bus_type="kafka",
            live=live,
            ready=live and bool(assigned) and not self._stopping,
            details={
                "mode": self.config.mode,
                "consumer_group": self.config.effective_consumer_group,
                "command_topic": self.config.command_topic,
                "assigned_partitions": _names(assigned),
                "inflight": self._dispatcher.accepted,
                "max_inflight": self._dispatcher.capacity,
                "consumer_lag": {f"{tp.topic}[{tp.partition}]": lag for tp, lag in self._lag.items()},
            },
        )


class _RebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Runs inside aiokafka's rebalance; the group waits for ``on_partitions_revoked`` to return."""

    def __init__(self, bus: KafkaEventBus) -> None:
        self._bus = bus

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._bus._on_partitions_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._bus._on_partitions_assigned(set(assigned))


def _is_retryable(reply: ModelOnexEnvelope) -> bool:
    return reply.success is False and reply.error_code in RETRYABLE_ERROR_CODES


def _names(partitions: Any) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)


async def _start_with_retry(build: Any, config: KafkaBusConfig, what: str) -> Any:
    """Start a fresh client per attempt until it connects or ``startup_timeout_seconds`` pass."""
    deadline = time.monotonic() + config.startup_timeout_seconds
    delay = 0.5
    while True:
        client = build()
        try:
            await client.start()
            return client
        except KafkaError as exc:
            with contextlib.suppress(Exception):
                await client.stop()
            if time.monotonic() + delay > deadline:
                servers = ",".join(config.bootstrap_servers)
                raise KafkaUnavailableError(
                    f"kafka {what} could not connect to {servers} within {config.startup_timeout_seconds:g}s: {exc}"
                ) from None
            logger.warning("kafka %s not connected yet; retrying", what, extra={"error": repr(exc)})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _bounded(step: Any, within: float, what: str) -> None:
    try:
        await asyncio.wait_for(step, within)
    except (TimeoutError, KafkaError) as exc:
        logger.warning("kafka bus %s did not finish cleanly", what, extra={"error": repr(exc)})
