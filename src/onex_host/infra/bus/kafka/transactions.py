"""``delivery: exactly_once``: replies, dead letters and consumed offsets in one Kafka transaction.

What it guarantees: a ``read_committed`` reader of the reply and dead-letter
topics sees every command's outputs exactly once, whatever host dies, however
partitions move. A record's outputs and the offset that consumes it are
committed atomically, so either both are visible or neither is (and then the
next owner runs the record again, its earlier attempt's outputs aborted).

How (the model Kafka Streams used before KIP-447): aiokafka's
``send_offsets_to_transaction`` takes a group id, not the group metadata a
broker needs to fence a stale member, so fencing comes from the transactional
id. Each assigned input partition gets its own transactional producer with a
stable id, ``<prefix>.<topic>.<partition>``. The new owner of a partition
starts its producer with that id before it reads the partition's committed
offset; starting it bumps the id's epoch, which aborts whatever transaction
the old owner left open and makes every later call of the old producer fail
with ``ProducerFenced``. Only then is the committed offset read (and the
consumer positioned there), so the new owner never starts from an offset
that a still-running old owner was about to move.

Batching: a record's outputs are *handed over* here when it finishes, not
sent. A per-partition committer task takes the finished prefix of the
partition (every record below the oldest unfinished one, the same rule as
``offsets``), sends its outputs, adds the offset after it and commits, in one
transaction. Outputs of records finished beyond an unfinished one wait for a
later transaction: a transaction never carries an output whose record's
offset it does not also commit (else a replay would answer it twice). One
transaction per partition is in flight at a time; records that finish
meanwhile go in the next, so batches grow with the load. The latency cost is
the wait for the transaction: ``transaction_interval_ms`` (the longest a
finished record waits for more to share its transaction; 0 = commit as soon
as the previous one ended) plus one commit (about 4 broker round trips).

Failures, and what they mean for the records of the transaction:

* An output the broker refuses for good (too large, topic refused) gets the
  same fallbacks as in ``at_least_once`` (``sender``, ``outcome``), produced
  in the same transaction, before its offset is added.
* A dead letter that cannot be stored even so holds the partition: the
  transaction is aborted and tried again after a growing delay (the record
  must not be committed without an end).
* A broker or coordinator outage aborts the transaction (when it can) and
  retries the same outputs later; an outcome the host cannot know (a commit
  that timed out) is settled by restarting the producer, which completes or
  aborts the open transaction, and reading the committed offset back.
* A producer-state error (``OutOfOrderSequenceNumber`` after a broker
  restart mid-transaction, ``UnknownProducerId``) cannot be aborted away:
  aiokafka raises it on every later send. The producer is restarted, as for
  an unknown outcome.
* ``ProducerFenced`` (or ``InvalidProducerEpoch``) means another host owns the partition now: its work
  here is dropped, uncommitted, and the partition's ownership token is lost,
  so nothing more runs for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import InvalidProducerEpoch, KafkaError, ProducerFenced, TransactionalIdAuthorizationFailed

from onex_host.infra.bus.kafka.clients import backoff_delay, new_producer, start_client, stop_within
from onex_host.infra.bus.kafka.codec import DLQ_HEADER_PREFIX, DeadLetterRecord, InboundRecord
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.bus.kafka.dispatcher import Ownership
from onex_host.infra.bus.kafka.offsets import OffsetTracker
from onex_host.infra.bus.kafka.outcome import PublishReply
from onex_host.infra.bus.kafka.sender import (
    DELIVERED,
    HEADER_VALUE_DROPPED,
    ErrorClass,
    SendFailure,
    SendResult,
    classify,
    reply_record,
    too_large_reply_record,
)

logger = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]


@dataclass(slots=True)
class Output:
    """One record to produce in a transaction, with what to do if the broker refuses it."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers
    publish: PublishReply | None = None
    """Set for a reply: its fallbacks need the request."""
    letter: DeadLetterRecord | None = None
    """Set for a dead letter: its fallbacks drop the original bytes."""


UndeliveredReply = Callable[[InboundRecord, PublishReply, SendResult], tuple[DeadLetterRecord, PublishReply | None]]
"""The outputs that replace a reply the broker refused for good (a dead letter, perhaps an error reply)."""

CommittedOffset = Callable[[TopicPartition], Awaitable[int | None]]
"""The group's committed offset of a partition, read from the broker."""


async def _send(producer: AIOKafkaProducer, output: Output) -> object:
    """Produce one output and wait for its acknowledgement (a record too large for the client raises here too)."""
    future = await producer.send(output.topic, value=output.value, key=output.key, headers=output.headers)
    return await future


_FENCED = (ProducerFenced, InvalidProducerEpoch, TransactionalIdAuthorizationFailed)
"""Another host started this partition's transactional id (or it is no longer ours): stop, never restart it
(a restart would fence the new owner in turn)."""


def _needs_new_producer(error: BaseException) -> bool:
    """A failure the producer cannot get over by aborting: a commit of unknown outcome, or a producer-state
    error (``OutOfOrderSequenceNumber`` after a broker restart mid-transaction, ``UnknownProducerId``, ...).
    aiokafka keeps such an error and raises it on every later send, so retrying with the same producer
    would hold the partition for good. A fence (``_FENCED``, also a producer-state error to ``classify``)
    never gets here: ``_commit_ready`` turns it into ``PartitionFencedError`` and the partition stops."""
    return isinstance(error, _OutcomeUnknownError) or classify(error) is ErrorClass.REPLACE_PRODUCER


class PartitionFencedError(Exception):
    """Another host started this partition's transactional producer: it owns the partition now."""


class _OutcomeUnknownError(Exception):
    """A commit that did not answer: it may or may not have happened; only restarting the producer settles it."""


class _StuckError(Exception):
    """An output has no delivery the broker accepts (a dead letter refused): abort and try again later."""


@dataclass(eq=False)
class _Pending:
    offset: int
    record: InboundRecord
    outputs: list[Output] = field(default_factory=list)


@dataclass(eq=False)
class _PartitionOutbox:
    tp: TopicPartition
    ownership: Ownership
    producer: AIOKafkaProducer
    pending: dict[int, _Pending] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    closing: bool = False
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    fenced: bool = False
    first_waiting_since: float | None = None


class TransactionalOutbox:
    """The exactly-once sink of ``CommandProcessor``: outputs wait here for their partition's next transaction."""

    def __init__(
        self,
        config: KafkaBusConfig,
        tracker: OffsetTracker[TopicPartition],
        *,
        committed_offset: CommittedOffset,
        build_producer: Callable[[str], AIOKafkaProducer] | None = None,
    ) -> None:
        """``build_producer(transactional_id)``: the aiokafka boundary, for tests that inject faults there."""
        self._config = config
        self._tracker = tracker
        self._committed_offset = committed_offset
        self._build_producer = build_producer or (lambda txn_id: new_producer(config, transactional_id=txn_id))
        self._partitions: dict[TopicPartition, _PartitionOutbox] = {}
        self._by_ownership: dict[int, _PartitionOutbox] = {}
        self._room = asyncio.Event()
        self._room.set()
        self._warm: dict[TopicPartition, asyncio.Task[AIOKafkaProducer]] = {}
        self.on_undelivered_reply: UndeliveredReply | None = None
        self.on_fenced: Callable[[str, BaseException], None] | None = None
        """Told when a partition's producer was fenced: the bus rebuilds its state from the group's assignment
        (after a pause, in which a host that really lost the partition learns so at its next heartbeat)."""
        self.committed_transactions = 0
        self.aborted_transactions = 0

    # -- bounds -------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Finished records whose outputs are not committed yet."""
        return sum(len(box.pending) for box in self._partitions.values())

    @property
    def room(self) -> int:
        return max(self._config.transaction_max_pending_records - self.pending, 0)

    async def wait_for_room(self, within: float) -> bool:
        if self.room > 0:
            return True
        self._room.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._room.wait(), within)
        return self.room > 0

    # -- partitions ----------------------------------------------------------------------

    def transactional_id(self, tp: TopicPartition) -> str:
        prefix = self._config.transactional_id_prefix or self._config.effective_consumer_group
        return f"{prefix}.{tp.topic}.{tp.partition}"

    async def open(self, tp: TopicPartition, ownership: Ownership) -> int | None:
        """Start ``tp``'s producer (fencing its previous owner), then return the committed offset to resume from.

        Raises ``KafkaUnavailableError`` when the producer cannot start within ``startup_timeout_seconds``.
        """
        producer = await self._take_warm(tp) or await self._start_producer(tp)
        box = _PartitionOutbox(tp=tp, ownership=ownership, producer=producer)
        self._partitions[tp] = box
        self._by_ownership[id(ownership)] = box
        box.task = asyncio.create_task(self._run(box), name=f"kafka-txn-{tp.topic}-{tp.partition}")
        return await self._committed_offset(tp)

    async def _start_producer(self, tp: TopicPartition) -> AIOKafkaProducer:
        txn_id = self.transactional_id(tp)
        return await start_client(lambda: self._build_producer(txn_id), self._config, f"producer {txn_id}")

    def warm(self, partitions: Iterable[TopicPartition]) -> None:
        """Start these partitions' producers now, for an ``open`` to come (see ``KafkaEventBus.warm_transactions``)."""
        for tp in partitions:
            if tp not in self._warm and tp not in self._partitions:
                self._warm[tp] = asyncio.create_task(self._start_producer(tp), name=f"kafka-txn-warm-{tp.partition}")

    async def _take_warm(self, tp: TopicPartition) -> AIOKafkaProducer | None:
        task = self._warm.pop(tp, None)
        if task is None:
            return None
        try:
            return await task
        except Exception as exc:  # started again the ordinary way
            logger.warning("warm transactional producer failed to start", extra={"error": repr(exc)})
            return None

    async def discard_warm(self) -> None:
        """Stop warm producers of partitions this host was not assigned (another member got them)."""
        tasks, self._warm = list(self._warm.values()), {}
        for task in tasks:
            try:
                producer = await task
            except Exception:  # noqa: S112 - nothing to stop
                continue
            await stop_within(producer.stop(), 5.0, "unused warm transactional producer stop")

    async def close(self, partitions: Iterable[TopicPartition], *, within: float) -> None:
        """Commit what finished on ``partitions`` (bounded by ``within``), then stop their producers.

        What is not committed by then is dropped: the next owner runs those records again.
        """
        boxes = [self._partitions[tp] for tp in partitions if tp in self._partitions]
        for box in boxes:
            box.closing = True
            box.closed.set()
            box.wake.set()
        tasks = [box.task for box in boxes if box.task is not None]
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=max(within, 0.01))
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for box in boxes:
            if box.pending:
                logger.info(
                    "uncommitted outputs dropped with the partition; its next owner runs them again",
                    extra={"partition": f"{box.tp.topic}[{box.tp.partition}]", "records": len(box.pending)},
                )
            self._partitions.pop(box.tp, None)
            self._by_ownership.pop(id(box.ownership), None)
        self._room.set()
        await asyncio.gather(
            *(stop_within(box.producer.stop(), max(within, 1.0), "transactional producer stop") for box in boxes)
        )

    @property
    def partitions(self) -> list[TopicPartition]:
        return list(self._partitions)

    # -- the sink ------------------------------------------------------------------------

    async def send_reply(
        self, publish: PublishReply, ownership: Ownership, record: InboundRecord | None = None
    ) -> SendResult:
        """Hand the reply over to the partition's next transaction (its encoding fallbacks as in ``sender``)."""
        if self._box(ownership) is None:
            return SendResult(SendFailure.OWNERSHIP_LOST)
        try:
            output = self._reply_output(publish)
        except Exception as exc:  # reply_record answers every encoding failure it knows; this is a bug
            return SendResult(SendFailure.UNEXPECTED, exc)
        return self._hand_over(ownership, record, output)

    async def send_dead_letter(
        self, letter: DeadLetterRecord, ownership: Ownership, record: InboundRecord | None = None
    ) -> SendResult:
        return self._hand_over(ownership, record, self._letter_output(letter))

    def _reply_output(self, publish: PublishReply) -> Output:
        topic, key, value, headers = reply_record(publish)
        return Output(topic, key, value, headers, publish=publish)

    def _letter_output(self, letter: DeadLetterRecord) -> Output:
        topic = self._config.effective_dead_letter_topic
        return Output(topic, letter.key, letter.value, list(letter.headers), letter=letter)

    def _box(self, ownership: Ownership) -> _PartitionOutbox | None:
        """The partition ``ownership`` belongs to, while outputs may still be handed over to it."""
        box = self._by_ownership.get(id(ownership))
        # Lost ownership alone does not refuse: records that finish in a revoke's grace period are
        # committed by the revoke's last transaction (``close``), as at-least-once commits them.
        if box is None or box.closing or box.fenced:
            return None
        return box

    def _hand_over(self, ownership: Ownership, record: InboundRecord | None, output: Output) -> SendResult:
        box = self._box(ownership)
        if box is None:
            return SendResult(SendFailure.OWNERSHIP_LOST)
        assert record is not None, "the transactional outbox needs the record an output belongs to"
        entry = box.pending.get(record.offset)
        if entry is None:
            entry = box.pending[record.offset] = _Pending(record.offset, record)
        entry.outputs.append(output)
        if box.first_waiting_since is None:
            box.first_waiting_since = time.monotonic()
        return DELIVERED

    def records_finished(self, tp: TopicPartition | None = None) -> None:
        """Offsets moved (the dispatcher finished a record of ``tp``, or of any): its committer may have a
        longer prefix to commit now."""
        boxes = self._partitions.values() if tp is None else [b for b in [self._partitions.get(tp)] if b]
        for box in boxes:
            if box.pending:
                box.wake.set()

    # -- the per-partition committer ----------------------------------------------------------

    async def _run(self, box: _PartitionOutbox) -> None:
        interval = self._config.transaction_interval_ms / 1000
        failures = 0
        while True:
            await box.wake.wait()
            box.wake.clear()
            if box.closing:
                break
            if interval > 0 and box.first_waiting_since is not None and not self._batch_full(box):
                wait = interval - (time.monotonic() - box.first_waiting_since)
                if wait > 0:
                    with contextlib.suppress(TimeoutError):  # a close cuts the wait short
                        await asyncio.wait_for(box.closed.wait(), wait)
            try:
                await self._commit_ready(box)
                failures = 0
            except PartitionFencedError:
                return
            except Exception as exc:
                failures += 1
                delay = backoff_delay(failures)
                logger.warning(
                    "kafka transaction failed; its outputs are kept and committed again",
                    extra={"partition": f"{box.tp.topic}[{box.tp.partition}]", "error": repr(exc), "attempt": failures},
                )
                await self._settle(box, restart=_needs_new_producer(exc))
                if not await box.ownership.sleep(delay):
                    return
                box.wake.set()
        # Closing (a revoke or shutdown): one last commit of what finished.
        with contextlib.suppress(PartitionFencedError):
            try:
                await self._commit_ready(box)
            except Exception as exc:
                logger.warning(
                    "kafka transaction at partition release failed; its records are run again by the next owner",
                    extra={"partition": f"{box.tp.topic}[{box.tp.partition}]", "error": repr(exc)},
                )

    def _batch_full(self, box: _PartitionOutbox) -> bool:
        return len(box.pending) >= self._config.transaction_max_records

    def _ready(self, box: _PartitionOutbox) -> tuple[list[_Pending], int] | None:
        """The finished prefix's outputs (up to ``transaction_max_records``) and the offset to commit after them."""
        offsets = self._tracker.get(box.tp)
        head = offsets.pending_commit if offsets is not None else None
        if head is None:
            return None
        ready = sorted((entry for entry in box.pending.values() if entry.offset < head), key=lambda e: e.offset)
        limit = self._config.transaction_max_records
        if len(ready) > limit:
            head = ready[limit].offset  # everything below the first record left out is in this batch
            ready = ready[:limit]
        return ready, head

    async def _commit_ready(self, box: _PartitionOutbox) -> None:
        """One transaction: the finished prefix's outputs, then its offset, then commit."""
        batch = self._ready(box)
        if batch is None:
            return
        entries, position = batch
        producer = box.producer
        committing = False
        timeout = self._config.request_timeout_ms / 1000
        try:
            await asyncio.wait_for(producer.begin_transaction(), timeout)
            await self._produce_all(producer, entries, timeout)
            await asyncio.wait_for(
                producer.send_offsets_to_transaction({box.tp: position}, self._config.effective_consumer_group),
                timeout,
            )
            committing = True
            await asyncio.wait_for(producer.commit_transaction(), timeout)
        except _FENCED as exc:
            self._fenced(box, exc)
        except TimeoutError as exc:
            self.aborted_transactions += 1
            if committing:
                raise _OutcomeUnknownError("the transaction's commit did not answer in time") from exc
            raise
        except BaseException:
            self.aborted_transactions += 1
            raise
        self.committed_transactions += 1
        for entry in entries:
            box.pending.pop(entry.offset, None)
        box.first_waiting_since = time.monotonic() if box.pending else None
        offsets = self._tracker.get(box.tp)
        if offsets is not None:
            offsets.mark_committed(position)
        self._room.set()
        if self._ready(box) is not None:
            box.wake.set()

    async def _produce_all(self, producer: AIOKafkaProducer, entries: list[_Pending], timeout: float) -> None:
        """Send every output and wait for each; a refused one is replaced by its fallback, in this transaction.

        aiokafka does not fail a transaction for a refused record (Java's client
        does): the others would commit without it. So every acknowledgement is
        awaited before the offset is added, and a refused output's fallback is
        produced first.
        """
        sends = [(entry, output) for entry in entries for output in entry.outputs]
        while sends:
            results = await asyncio.wait_for(
                asyncio.gather(*(_send(producer, output) for _entry, output in sends), return_exceptions=True),
                timeout,
            )
            retry: list[tuple[_Pending, Output]] = []
            for (entry, output), result in zip(sends, results, strict=True):
                if not isinstance(result, BaseException):
                    continue
                fallbacks = self._fallbacks(entry, output, result)
                at = next(i for i, kept in enumerate(entry.outputs) if kept is output)
                entry.outputs[at : at + 1] = fallbacks
                retry.extend((entry, fallback) for fallback in fallbacks)
            sends = retry

    def _fallbacks(self, entry: _Pending, output: Output, error: BaseException) -> list[Output]:
        """What replaces ``output`` after the broker refused it with ``error`` (see the module docstring)."""
        kind = classify(error)
        if isinstance(error, _FENCED):
            raise error
        if kind in {ErrorClass.RETRY, ErrorClass.REPLACE_PRODUCER}:
            raise error  # not final: the transaction is aborted and tried again
        if output.publish is not None:
            if kind is ErrorClass.TOO_LARGE and output.value is not None and len(output.value) > 0:
                publish = output.publish
                topic, key, value, headers = too_large_reply_record(publish, len(output.value))
                if value != output.value:
                    return [Output(topic, key, value, headers, publish=publish)]
            assert self.on_undelivered_reply is not None
            failure = SendFailure.TOO_LARGE if kind is ErrorClass.TOO_LARGE else SendFailure.TOPIC_REFUSED
            if kind is ErrorClass.UNEXPECTED:
                failure = SendFailure.UNEXPECTED
            letter, reply = self.on_undelivered_reply(entry.record, output.publish, SendResult(failure, error))
            replacements = [self._letter_output(letter)]
            if reply is not None:
                replacements.append(self._reply_output(reply))
            return replacements
        if kind is ErrorClass.TOO_LARGE:
            if output.value is not None:
                dropped = (HEADER_VALUE_DROPPED, str(len(output.value)).encode())
                return [Output(output.topic, output.key, None, [*output.headers, dropped], letter=output.letter)]
            own = [(name, value) for name, value in output.headers if name.startswith(DLQ_HEADER_PREFIX)]
            if own != output.headers or output.key is not None:
                return [Output(output.topic, None, None, own, letter=output.letter)]
        raise _StuckError(f"dead letter refused ({type(error).__name__}); the record holds its partition")

    def _fenced(self, box: _PartitionOutbox, error: BaseException) -> None:
        box.fenced = True
        box.ownership.lose()
        logger.warning(
            "kafka producer fenced: another host owns the partition now; its uncommitted work here is dropped",
            extra={"partition": f"{box.tp.topic}[{box.tp.partition}]", "error": type(error).__name__},
        )
        if self.on_fenced is not None:
            self.on_fenced(f"transactional producer of {box.tp.topic}[{box.tp.partition}]", error)
        raise PartitionFencedError(str(box.tp)) from error

    async def _settle(self, box: _PartitionOutbox, *, restart: bool) -> None:
        """After a failed transaction: abort it, or restart the producer when its state is unknown or broken
        (``restart``, or an abort that fails).

        A restart completes or aborts the open transaction (the broker does it
        when the id starts again), so the committed offset read back afterwards
        says which of the kept outputs are already committed.
        """
        timeout = self._config.request_timeout_ms / 1000
        producer = box.producer
        if not restart:
            try:
                await asyncio.wait_for(producer.abort_transaction(), timeout)
                return
            except Exception as exc:
                if isinstance(exc, _FENCED):
                    with contextlib.suppress(PartitionFencedError):
                        self._fenced(box, exc)
                    return
        await stop_within(producer.stop(), timeout, "transactional producer stop")
        while box.ownership.owned and not box.closing:
            try:
                box.producer = await self._start_producer(box.tp)
                committed = await self._committed_offset(box.tp)
                break
            except (KafkaError, ConnectionError, TimeoutError) as exc:
                logger.warning("kafka transactional producer restart failed; retrying", extra={"error": repr(exc)})
                if not await box.ownership.sleep(1.0):
                    return
        else:
            return
        if committed is not None:
            for offset in [o for o in box.pending if o < committed]:
                del box.pending[offset]  # that transaction did commit before the producer went away
            offsets = self._tracker.get(box.tp)
            if offsets is not None:
                offsets.mark_committed(committed)
        self._room.set()
