"""``KafkaEventBus``: the lifecycle, the consume loop and the rebalance listener.

Division of labour (as in aiokafka itself): ``codec`` turns bytes into
envelopes or dead letters, ``dispatcher`` runs records concurrently within
the bound and the ordering promise, ``processing`` takes one record through
the runtime, ``outcome`` decides reply, retry or dead letter, ``sender``
delivers, ``offsets`` decides what may be committed and ``committer``
commits it. This module only moves records from Kafka into the dispatcher
and keeps the group membership.

Delivery (``delivery``): at-least-once by default. Auto-commit is off; a
partition's offset is committed only up to the oldest record whose reply is
not yet published (or which is not yet dead-lettered). A crash, a kill or a
lost partition replays unfinished records on the next owner; nothing is
dropped, and a replayed record may be answered twice. ``exactly_once`` hands
each record's outputs to ``transactions``, which commits them with the
offsets in one Kafka transaction per partition: a ``read_committed`` reader
sees every command answered once.

Supervision: the consume loop runs under a supervisor. A failure of the
loop, of the background commit or lag task, or a bug in processing is logged
once with its cause, turns readiness off, and the loop restarts with its
state rebuilt from the consumer's current assignment (unfinished work is
revoked, committed as far as it finished, and fetched again from the
committed offset). After ``max_consume_loop_restarts`` restarts the bus
reports itself not live, so the orchestrator restarts the process.

Liveness is progress, not a timer: it is stamped by polls that returned with
a known group coordinator and by the rebalance callbacks (a rebalance is
bounded by the group's rebalance timeout, ``max_poll_interval_ms``, so one in
progress counts as live up to that long); consecutive failed polls turn
readiness off and, past ``liveness_timeout_seconds``, liveness too.

The consume loop never runs a handler: it polls, hands records to the
dispatcher and returns to polling, so a slow handler cannot push the consumer
past ``max_poll_interval_ms``. When the dispatcher is full the loop pauses
every assigned partition and keeps polling (an empty poll keeps the group
membership alive) until slots free: a quarter of them, or any after a few
milliseconds (``KeyedDispatcher.wait_for_free_slot``), so a saturated host
fetches in batches instead of one record per poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import ConsumerStoppedError, KafkaError

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.operation import ModelBusHealth
from onex_host.infra.bus.base import BusMode
from onex_host.infra.bus.kafka.clients import (
    KafkaAuthenticationError,
    create_missing_topics,
    new_consumer,
    start_client,
    stop_within,
)
from onex_host.infra.bus.kafka.codec import InboundRecord
from onex_host.infra.bus.kafka.committer import OffsetCommitter
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.bus.kafka.dispatcher import KeyedDispatcher
from onex_host.infra.bus.kafka.offsets import OffsetTracker
from onex_host.infra.bus.kafka.processing import CommandProcessor
from onex_host.infra.bus.kafka.sender import KafkaSender
from onex_host.infra.bus.kafka.transactions import TransactionalOutbox
from onex_host.infra.metrics import HostMetrics
from onex_host.spi.event_bus import EnvelopeCallback

logger = logging.getLogger(__name__)

RESTART_PAUSE_SECONDS = 0.5
"""Between a loop failure and its restart: a failure that repeats at once does not spin."""


class KafkaEventBus:
    """``ProtocolEventBus`` over Apache Kafka; see the module docstring for the guarantees."""

    def __init__(
        self,
        config: KafkaBusConfig,
        *,
        max_concurrent: int,
        metrics: HostMetrics,
        build_consumer: Callable[[KafkaBusConfig, ConsumerRebalanceListener], AIOKafkaConsumer] | None = None,
        build_producer: Callable[[], AIOKafkaProducer] | None = None,
        build_transactional_producer: Callable[[str], AIOKafkaProducer] | None = None,
    ) -> None:
        """``build_consumer``/``build_producer``/``build_transactional_producer`` (given the transactional id):
        the aiokafka boundary, for tests that inject faults there."""
        self.config = config
        self._build_consumer = build_consumer or new_consumer
        self._sender = KafkaSender(config, build_producer=build_producer)
        tracker: OffsetTracker[TopicPartition] = OffsetTracker()
        self._outbox: TransactionalOutbox | None = None
        self._opening: set[TopicPartition] = set()
        """exactly_once: partitions assigned whose transactional producers are still starting."""
        if config.delivery == "exactly_once":
            self._outbox = TransactionalOutbox(
                config,
                tracker,
                committed_offset=self._committed_offset,
                build_producer=build_transactional_producer,
            )
        self._processor = CommandProcessor(config, self._outbox or self._sender, metrics)
        # The processor's own method, no wrapper: every await layer is paid again at each resumption.
        self._dispatcher: KeyedDispatcher[TopicPartition, InboundRecord] = KeyedDispatcher(
            max_concurrent, self._processor.process, tracker=tracker
        )
        if self._outbox is not None:
            self._outbox.on_undelivered_reply = self._processor.outputs_for_undelivered_reply
            self._outbox.on_fenced = self._fail
            self._dispatcher.on_finished = self._outbox.records_finished
        # exactly_once commits offsets inside its transactions; the committer then only measures lag.
        self._committer = OffsetCommitter(
            config, self._dispatcher.tracker, metrics, on_failure=self._fail, commits=self._outbox is None
        )
        self._dispatcher.on_bug = self._fail
        self._consumer: AIOKafkaConsumer | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._accepting = False
        self._stopping = False
        self._stopped = asyncio.Event()
        self._last_progress = 0.0
        self._joined = False
        self._rebalancing_since: float | None = None
        self._poll_failures = 0
        self._restarts = 0
        self._loop_failed = False
        """Set from a failure until the restarted loop's first good poll: readiness is off meanwhile."""
        self._gave_up = False
        self._fault: BaseException | None = None
        """A failure outside the loop (commit task, lag task, a processing bug), raised into the loop."""
        self._last_failure: str | None = None
        self._start_error: str | None = None
        self._prepared = False
        """``prepare`` connected the producer; until ``start`` joins the group this is a standby bus."""

    @property
    def mode(self) -> BusMode:
        return self.config.mode

    def _new_consumer(self, listener: ConsumerRebalanceListener) -> AIOKafkaConsumer:
        """Build the consumer and keep it at once: its first rebalance may run before ``start`` returns."""
        self._consumer = self._build_consumer(self.config, listener)
        return self._consumer

    def warm_transactions(self, partitions: list[int]) -> None:
        """Start the transactional producers of the command topic's ``partitions`` in the background.

        Only for a group known to be empty (a promotion's handover found it so): starting a producer
        fences whoever holds its partition. An assignment then finds its producer ready; one never
        assigned here is stopped. A no-op for ``at_least_once``.
        """
        if self._outbox is not None:
            self._outbox.warm([TopicPartition(self.config.command_topic, p) for p in partitions])

    async def _committed_offset(self, tp: TopicPartition) -> int | None:
        """The group's committed offset of ``tp``, read from the broker now (after its producer fenced the last)."""
        consumer = self._consumer
        assert consumer is not None
        committed = await asyncio.wait_for(consumer.committed(tp), self.config.request_timeout_ms / 1000)
        return committed if isinstance(committed, int) else None

    # -- lifecycle ----------------------------------------------------------------------

    async def prepare(self) -> None:
        """Connect the producer (creating the topics when told to), join no group: a warm standby.

        The producer's bootstrap loads the cluster's metadata, so the first reply
        after ``start`` waits for no metadata request. Raises like ``start``.
        """
        if self._prepared or self._start_error is not None or self._stopping:
            return
        try:
            if self.config.create_missing_topics:
                created = await create_missing_topics(self.config)
                if created:
                    logger.info("kafka topics created (create_missing_topics)", extra={"topics": created})
            await self._sender.start()
        except KafkaAuthenticationError as exc:
            self._refused(exc)
            await self._sender.stop(1.0)
            return
        self._prepared = True

    def _refused(self, exc: KafkaAuthenticationError) -> None:
        # Restarting cannot fix a wrong secret: stay up, unready, with one clear error (no crash loop).
        self._start_error = str(exc)
        logger.error("kafka event bus not started: %s", exc)

    async def start(self, on_envelope: EnvelopeCallback) -> None:
        """Prepare (unless ``prepare`` did), join the consumer group and start the consume loop in the background.

        Raises ``KafkaUnavailableError`` if the brokers stay unreachable for
        ``startup_timeout_seconds``; the group join itself completes in the background.
        """
        await self.prepare()
        if self._loop_task is not None or self._start_error is not None or self._stopping:
            return
        self._processor.on_envelope = on_envelope
        listener = _RebalanceListener(self)
        try:
            self._consumer = await start_client(lambda: self._new_consumer(listener), self.config, "consumer")
        except KafkaAuthenticationError as exc:
            self._refused(exc)
            await self._sender.stop(1.0)
            return
        self._committer.consumer = self._consumer
        self._accepting = True
        self._last_progress = time.monotonic()
        self._loop_task = asyncio.create_task(self._supervise(), name="kafka-bus-consume")
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
        deadline = time.monotonic() + timeout_seconds

        def left() -> float:
            return max(deadline - time.monotonic(), 1.0)

        try:
            # Each step is on its own: whatever failed before, the consumer and producer are closed.
            try:
                # Keep a slice of the budget for the final commit and leaving the group.
                reserve = min(5.0, timeout_seconds * 0.2)
                if self._consumer is not None:
                    drained = await self._dispatcher.drain(max(timeout_seconds - reserve, 0.0))
                    if not drained:
                        logger.warning("kafka bus stop: in-flight envelopes cancelled at the drain deadline")
                    if self._outbox is not None:
                        await self._outbox.close(self._outbox.partitions, within=left())
                    await self._committer.commit(within=left())
            except Exception:
                logger.exception("kafka bus stop: draining failed; unfinished work is replayed by the next owner")
            if self._loop_task is not None:
                self._loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._loop_task
            with contextlib.suppress(Exception):
                await self._committer.wait_for_background_commit()
            if self._consumer is not None:
                await stop_within(self._consumer.stop(), left(), "consumer stop")
            await self._sender.stop(left())
        finally:
            self._stopped.set()
            logger.info("kafka event bus stopped")

    # -- consume loop ---------------------------------------------------------------------

    def _fail(self, where: str, error: BaseException) -> None:
        """A component outside the loop failed: hand it to the loop, whose supervisor restarts it."""
        if self._fault is None:
            self._fault = _ComponentFailedError(f"{where} failed: {type(error).__name__}")
            self._fault.__cause__ = error

    async def _supervise(self) -> None:
        """Run the consume loop; on a failure log it once, rebuild state, restart (bounded)."""
        consumer = self._consumer
        assert consumer is not None
        rebuild = False
        while True:
            try:
                if rebuild:
                    await asyncio.sleep(RESTART_PAUSE_SECONDS)
                    self._fault = None
                    await self._rebuild(consumer)
                    rebuild = False
                await self._consume_loop(consumer)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping:
                    return
                self._loop_failed = True
                self._last_failure = f"{type(exc).__name__}: {exc}"
                logger.error(
                    "kafka consume loop failed; restarting (%d of %d)",
                    self._restarts + 1,
                    self.config.max_consume_loop_restarts,
                    exc_info=exc,
                )
                if self._restarts >= self.config.max_consume_loop_restarts:
                    self._gave_up = True
                    logger.error("kafka consume loop restarted too often; reporting not live")
                    return
                self._restarts += 1
                rebuild = True

    async def _rebuild(self, consumer: AIOKafkaConsumer) -> None:
        """Make the dispatcher's partitions the consumer's assignment, fresh, positioned at the committed offsets."""
        held = self._dispatcher.partitions
        if held:
            await self._on_partitions_revoked(set(held))
        await self._on_partitions_assigned(set(consumer.assignment()))
        await self._seek_to_committed(consumer, self._dispatcher.partitions)

    async def _seek_to_committed(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        """Fetch ``partitions`` again from their committed offsets: what was fetched but not finished is replayed."""
        for tp in partitions:
            try:
                committed = await asyncio.wait_for(consumer.committed(tp), self.config.request_timeout_ms / 1000)
            except (KafkaError, TimeoutError) as exc:
                raise _ComponentFailedError(f"reading the committed offset of {tp} failed") from exc
            if committed is not None:
                consumer.seek(tp, committed)
            elif self.config.auto_offset_reset == "earliest":
                await consumer.seek_to_beginning(tp)

    async def _consume_loop(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            if self._fault is not None:
                raise self._fault
            try:
                await self._poll_once(consumer)
            except ConsumerStoppedError:
                return
            except KafkaError as exc:
                # Polls go on with growing pauses; the failures count towards not ready and, in time, not live.
                self._poll_failures += 1
                logger.warning(
                    "kafka poll failed; retrying", extra={"error": repr(exc), "consecutive": self._poll_failures}
                )
                await asyncio.sleep(min(0.2 * 2 ** min(self._poll_failures - 1, 5), 5.0))

    def _progress(self) -> None:
        self._last_progress = time.monotonic()

    async def _poll_once(self, consumer: AIOKafkaConsumer) -> None:
        poll_ms = self.config.poll_timeout_ms
        free = self._free_slots()
        taking = self._accepting and free > 0
        try:
            if taking:
                if consumer.paused():
                    consumer.resume(*(tp for tp in consumer.paused() if tp not in self._opening))
            else:
                # Saturated or draining: fetch nothing, but keep polling to stay in the group.
                if self._accepting:
                    if await self._wait_for_free_slot(poll_ms / 1000):
                        # A slot freed in time: take from what was prefetched. Pausing now
                        # would make aiokafka drop that buffer and fetch it all again.
                        self._polled(consumer)
                        return
                else:
                    await asyncio.sleep(poll_ms / 1000)
                consumer.pause(*consumer.assignment())
            batches = await consumer.getmany(timeout_ms=poll_ms if taking else 0, max_records=max(free, 1))
            self._polled(consumer)
            for tp, records in batches.items():
                self._accept_batch(consumer, tp, records)
        finally:
            self._committer.maybe_commit_in_background()

    def _free_slots(self) -> int:
        """Records the loop may accept now: dispatcher slots, and (exactly_once) room among uncommitted outputs."""
        free = self._dispatcher.free_slots
        return free if self._outbox is None else min(free, self._outbox.room)

    async def _wait_for_free_slot(self, within: float) -> bool:
        if self._outbox is not None and self._outbox.room <= 0:
            await self._outbox.wait_for_room(within)
            return self._free_slots() > 0
        return await self._dispatcher.wait_for_free_slot(within) and self._free_slots() > 0

    def _polled(self, consumer: AIOKafkaConsumer) -> None:
        """A poll returned: progress only while the group coordinator is known (a dead one gives empty polls)."""
        coordinator = getattr(consumer, "_coordinator", None)  # aiokafka keeps it private; None: not a group member
        if coordinator is not None and getattr(coordinator, "coordinator_id", None) is None:
            return
        self._poll_failures = 0
        self._loop_failed = False
        self._progress()

    def _accept_batch(self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        """Hand records to the dispatcher; ones it cannot take now are fetched again later."""
        # Checked once per batch: nothing below awaits, and each submit takes exactly one slot.
        room = self._free_slots() if self._accepting and self._dispatcher.owns(tp) and tp not in self._opening else 0
        for record in records:
            if room <= 0:
                # Rewind so the record is fetched again: nothing is skipped and nothing is buffered here.
                consumer.seek(tp, record.offset)
                return
            room -= 1
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
        """Drain, commit and release ``revoked``; the release happens whatever failed before it.

        aiokafka swallows a listener's exception, so a revoke that stopped half
        way would leave stale partition state behind for the next assignment.
        """
        self._rebalancing_since = time.monotonic()
        self._progress()
        self._joined = False  # rejoining: nothing to consume until the assignment arrives
        owned = [tp for tp in revoked if tp in self._dispatcher.partitions]
        if not owned:
            return
        started = time.monotonic()
        try:
            await self._dispatcher.revoke(owned, self.config.revoke_drain_timeout_seconds)
            self._progress()
            if self._outbox is not None:
                await self._outbox.close(owned, within=self.config.request_timeout_ms / 1000)
            await self._committer.commit(set(owned), within=self.config.request_timeout_ms / 1000)
        except Exception as exc:
            logger.exception("revoking partitions failed; unfinished work is replayed by the next owner")
            self._fail("partition revoke", exc)
        finally:
            self._dispatcher.release(owned)
            self._committer.forget(owned)
            self._progress()
        logger.info(
            "partitions revoked",
            extra={"partitions": _names(owned), "seconds": round(time.monotonic() - started, 3)},
        )

    async def _on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Called after every join, with an empty set too: a member beyond the partition count is still joined.

        Every assigned partition gets fresh state: one still held here is stale
        (its revoke never completed), so it is revoked and released first.
        """
        stale = self._dispatcher.partitions  # aiokafka's eager protocol revokes everything before it assigns
        if stale:
            logger.warning("stale partition state replaced", extra={"partitions": _names(stale)})
            await self._dispatcher.revoke(stale, 0)
            if self._outbox is not None:
                await self._outbox.close(stale, within=0)
            self._dispatcher.release(stale)
            self._committer.forget(stale)
        for tp in assigned:
            self._dispatcher.assign(tp)
        if self._outbox is not None:
            # Until its producer has fenced the last owner and the offset is read again, a partition's
            # records must not run: fetched ones are not accepted (and are fetched again after the seek).
            self._opening = set(assigned)
            if self._consumer is not None and assigned:
                self._consumer.pause(*assigned)
            try:
                await self._open_transactions(assigned)
            finally:
                self._opening = set()
                if self._consumer is not None and assigned:
                    self._consumer.resume(*assigned)
            await self._outbox.discard_warm()
        self._joined = True
        self._rebalancing_since = None
        self._progress()
        logger.info("partitions assigned", extra={"partitions": _names(assigned)})

    async def _open_transactions(self, assigned: set[TopicPartition]) -> None:
        """Start each partition's transactional producer (fencing its last owner), then resume from its offset.

        The committed offset is read only after the fence: a previous owner
        still running cannot move it any more, so what is consumed from here
        is exactly what no committed transaction answered.
        """
        consumer = self._consumer
        assert consumer is not None
        outbox = self._outbox
        assert outbox is not None
        partitions = list(assigned)
        resume = await asyncio.gather(
            *(outbox.open(tp, self._dispatcher.ownership(tp)) for tp in partitions), return_exceptions=True
        )
        failed: BaseException | None = None
        for tp, committed in zip(partitions, resume, strict=True):
            if isinstance(committed, BaseException):
                # No producer, or no safe offset: take nothing from it until the rebuild opens it again.
                self._dispatcher.ownership(tp).lose()
                failed = failed or committed
            elif committed is not None:
                consumer.seek(tp, committed)
        if failed is not None:
            raise failed

    # -- health ---------------------------------------------------------------------------------

    def health(self) -> ModelBusHealth:
        """Live: the consume loop made progress within ``liveness_timeout_seconds`` (see the module docstring).

        Ready: live, joined to the group, polling without failures and not
        recovering from a loop failure. Ready does not require partitions: with
        more replicas than partitions some members hold none, and a rollout must
        still see them Ready (they take over partitions at the next rebalance).
        The assignment is reported in the details instead.
        """
        now = time.monotonic()
        if self._start_error is not None:
            # Credentials refused: restarting the process would not fix it, so stay live and unready.
            return ModelBusHealth(
                bus_type="kafka",
                live=True,
                ready=False,
                details={"mode": self.config.mode, "error": self._start_error},
            )
        if self._loop_task is None and self._prepared:
            # Standby: connected, in no group, consuming nothing; ready for what it is asked (to start).
            return ModelBusHealth(
                bus_type="kafka",
                live=True,
                ready=not self._stopping,
                details={
                    "mode": self.config.mode,
                    "delivery": self.config.delivery,
                    "standby": True,
                    "consumer_group": self.config.effective_consumer_group,
                    "command_topic": self.config.command_topic,
                    "joined": False,
                },
            )
        running = self._loop_task is not None and not self._loop_task.done()
        window = self.config.liveness_timeout_seconds
        if self._rebalancing_since is not None:
            # A rebalance may take up to the group's rebalance timeout; the broker ends it then.
            window = max(window, self.config.max_poll_interval_ms / 1000 + window - (now - self._rebalancing_since))
        live = running and not self._gave_up and now - self._last_progress < window
        polling = self._poll_failures < self.config.max_consecutive_poll_failures
        assigned = self._dispatcher.partitions
        details: dict[str, object] = {}
        if self._last_failure is not None:
            details["last_failure"] = self._last_failure
            details["restarts"] = self._restarts
        return ModelBusHealth(
            bus_type="kafka",
            live=live,
            ready=live and self._joined and polling and not self._loop_failed and not self._stopping,
            details={
                **details,
                "mode": self.config.mode,
                "consumer_group": self.config.effective_consumer_group,
                "command_topic": self.config.command_topic,
                "joined": self._joined,
                "assigned_partition_count": len(assigned),
                "assigned_partitions": _names(assigned),
                "delivery": self.config.delivery,
                **self._transaction_details(),
                "inflight": self._dispatcher.accepted,
                "unacknowledged": self._dispatcher.unacknowledged,
                "max_inflight": self._dispatcher.capacity,
                "consumer_lag": {f"{tp.topic}[{tp.partition}]": lag for tp, lag in self._committer.lag.items()},
            },
        )

    def _transaction_details(self) -> dict[str, object]:
        if self._outbox is None:
            return {}
        return {
            "transactions_committed": self._outbox.committed_transactions,
            "transactions_aborted": self._outbox.aborted_transactions,
            "uncommitted_records": self._outbox.pending,
        }


class _RebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Runs inside aiokafka's rebalance; the group waits for ``on_partitions_revoked`` to return."""

    def __init__(self, bus: KafkaEventBus) -> None:
        self._bus = bus

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._bus._on_partitions_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        try:
            await self._bus._on_partitions_assigned(set(assigned))
        except Exception as exc:  # aiokafka would swallow it: the supervisor rebuilds from the assignment instead
            self._bus._fail("partition assignment", exc)


class _ComponentFailedError(Exception):
    """A failure outside the consume loop, raised inside it so the supervisor handles every failure alike."""


def _names(partitions: Iterable[TopicPartition]) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)
