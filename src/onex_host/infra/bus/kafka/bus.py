"""``KafkaEventBus``: the lifecycle, the consume loop and the rebalance listener.

Division of labour (as in aiokafka itself): ``codec`` turns bytes into
envelopes or dead letters, ``dispatcher`` runs records concurrently within
the bound and the ordering promise, ``processing`` takes one record through
the runtime, ``outcome`` decides reply, retry or dead letter, ``sender``
delivers, ``offsets`` decides what may be committed and ``committer``
commits it. This module only moves records from Kafka into the dispatcher
and keeps the group membership.

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
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import ConsumerStoppedError, KafkaError

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.operation import ModelBusHealth
from onex_host.infra.bus.base import BusMode
from onex_host.infra.bus.kafka.clients import new_consumer, retry_after_failure, start_client, stop_within
from onex_host.infra.bus.kafka.codec import InboundRecord
from onex_host.infra.bus.kafka.committer import OffsetCommitter
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.bus.kafka.dispatcher import KeyedDispatcher
from onex_host.infra.bus.kafka.processing import CommandProcessor
from onex_host.infra.bus.kafka.sender import KafkaSender
from onex_host.infra.metrics import HostMetrics
from onex_host.spi.event_bus import EnvelopeCallback

logger = logging.getLogger(__name__)


class KafkaEventBus:
    """``ProtocolEventBus`` over Apache Kafka; see the module docstring for the guarantees."""

    def __init__(self, config: KafkaBusConfig, *, max_concurrent: int, metrics: HostMetrics) -> None:
        self.config = config
        self._sender = KafkaSender(config)
        self._processor = CommandProcessor(config, self._sender, metrics)
        self._dispatcher: KeyedDispatcher[TopicPartition, InboundRecord] = KeyedDispatcher(
            max_concurrent, self._processor.process
        )
        self._committer = OffsetCommitter(config, self._dispatcher.tracker, metrics)
        self._consumer: AIOKafkaConsumer | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._accepting = False
        self._stopping = False
        self._stopped = asyncio.Event()
        self._last_poll = 0.0
        self._joined = False

    @property
    def mode(self) -> BusMode:
        return self.config.mode

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self, on_envelope: EnvelopeCallback) -> None:
        """Connect, join the consumer group and start the consume loop in the background.

        Raises ``KafkaUnavailableError`` if the brokers stay unreachable for
        ``startup_timeout_seconds``; the group join itself completes in the background.
        """
        if self._loop_task is not None:
            return
        self._processor.on_envelope = on_envelope
        await self._sender.start()
        listener = _RebalanceListener(self)
        self._consumer = await start_client(lambda: new_consumer(self.config, listener), self.config, "consumer")
        self._committer.consumer = self._consumer
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
                await self._committer.commit(within=max(deadline - time.monotonic(), 1.0))
            if self._loop_task is not None:
                self._loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._loop_task
            await self._committer.wait_for_background_commit()
            if self._consumer is not None:
                await stop_within(self._consumer.stop(), max(deadline - time.monotonic(), 1.0), "consumer stop")
            await self._sender.stop(max(deadline - time.monotonic(), 1.0))
        finally:
            self._stopped.set()
            logger.info("kafka event bus stopped")

    # -- consume loop ---------------------------------------------------------------------

    async def _consume_loop(self) -> None:
        consumer = self._consumer
        assert consumer is not None

        def log_retry(error: BaseException | None) -> None:
            logger.warning("kafka poll failed; retrying", extra={"error": repr(error)})

        def worth_retrying(error: BaseException) -> bool:
            return isinstance(error, KafkaError)

        while True:
            try:
                try:
                    await self._poll_once(consumer)
                except KafkaError as exc:
                    # Keep polling with growing pauses until a poll succeeds; the next failure starts short again.
                    await retry_after_failure(
                        lambda: self._poll_once(consumer), exc, worth_retrying=worth_retrying, log=log_retry
                    )
            except ConsumerStoppedError:
                return

    async def _poll_once(self, consumer: AIOKafkaConsumer) -> None:
        self._last_poll = time.monotonic()
        poll_ms = self.config.poll_timeout_ms
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
                        return
                else:
                    await asyncio.sleep(poll_ms / 1000)
                consumer.pause(*consumer.assignment())
            batches = await consumer.getmany(timeout_ms=poll_ms if taking else 0, max_records=max(free, 1))
            for tp, records in batches.items():
                self._accept_batch(consumer, tp, records)
        finally:
            self._committer.maybe_commit_in_background()

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
        await self._sender.produce(topic, (key or str(envelope.correlation_id)).encode(), envelope.to_wire())

    # -- rebalances -------------------------------------------------------------------------

    async def _on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        owned = [tp for tp in revoked if tp in self._dispatcher.partitions]
        if not owned:
            self._joined = False  # rejoining: nothing to consume until the assignment arrives
            return
        started = time.monotonic()
        await self._dispatcher.revoke(owned, self.config.revoke_drain_timeout_seconds)
        await self._committer.commit(set(owned), within=self.config.request_timeout_ms / 1000)
        self._dispatcher.release(owned)
        self._committer.forget(owned)
        self._joined = False
        logger.info(
            "partitions revoked",
            extra={"partitions": _names(owned), "seconds": round(time.monotonic() - started, 3)},
        )

    def _on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Called after every join, with an empty set too: a member beyond the partition count is still joined."""
        self._joined = True
        for tp in assigned:
            if tp not in self._dispatcher.partitions:
                self._dispatcher.assign(tp)
        logger.info("partitions assigned", extra={"partitions": _names(assigned)})

    # -- health ---------------------------------------------------------------------------------

    def health(self) -> ModelBusHealth:
        """Live: the consume loop polled within ``liveness_timeout_seconds``. Ready: live and joined to the group.

        Ready does not require partitions: with more replicas than partitions
        some members hold none, and a rollout must still see them Ready (they
        take over partitions at the next rebalance). The assignment is reported
        in the details instead.
        """
        running = self._loop_task is not None and not self._loop_task.done()
        live = running and time.monotonic() - self._last_poll < self.config.liveness_timeout_seconds
        assigned = self._dispatcher.partitions
        return ModelBusHealth(
            bus_type="kafka",
            live=live,
            ready=live and self._joined and not self._stopping,
            details={
                "mode": self.config.mode,
                "consumer_group": self.config.effective_consumer_group,
                "command_topic": self.config.command_topic,
                "joined": self._joined,
                "assigned_partition_count": len(assigned),
                "assigned_partitions": _names(assigned),
                "inflight": self._dispatcher.accepted,
                "max_inflight": self._dispatcher.capacity,
                "consumer_lag": {f"{tp.topic}[{tp.partition}]": lag for tp, lag in self._committer.lag.items()},
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


def _names(partitions: Iterable[TopicPartition]) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)
