"""The exactly-once outbox with a scripted transactional producer: what each transaction may and may not carry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaConnectionError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    TopicAuthorizationFailedError,
)

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.kafka.codec import InboundRecord
from onex_host.infra.bus.kafka.dispatcher import Ownership
from onex_host.infra.bus.kafka.offsets import OffsetTracker
from onex_host.infra.bus.kafka.processing import CommandProcessor
from onex_host.infra.bus.kafka.sender import SendFailure
from onex_host.infra.bus.kafka.transactions import TransactionalOutbox
from onex_host.infra.metrics import HostMetrics
from tests.support.builders.factories import command
from tests.support.builders.kafka_bus import bus_config
from tests.support.doubles.kafka_doubles import GroupOffsets, Step, TransactionalProducers

PREFIX = "t.txn"
TP = TopicPartition(f"{PREFIX}.cmd", 0)


class Harness:
    """A processor whose sink is the outbox, on one partition, and the dispatcher's part done by hand."""

    def __init__(self, step: Step | None = None, commit_step: Any = None, **overrides: Any) -> None:
        self.config = bus_config("127.0.0.1:1", PREFIX, delivery="exactly_once", request_timeout_ms=1_000, **overrides)
        self.group = GroupOffsets()
        self.producers = TransactionalProducers(self.group, step, commit_step)
        self.tracker: OffsetTracker[TopicPartition] = OffsetTracker()
        self.offsets = self.tracker.assign(TP)
        self.outbox = TransactionalOutbox(
            self.config, self.tracker, committed_offset=self.group.committed_offset, build_producer=self.producers
        )
        metrics = HostMetrics(mode=self.config.mode)
        metrics.declare({"echo": frozenset({"echo"})})
        self.processor = CommandProcessor(self.config, self.outbox, metrics)
        self.outbox.on_undelivered_reply = self.processor.outputs_for_undelivered_reply
        self.processor.on_envelope = echo
        self.ownership = Ownership()
        self.fenced: list[str] = []
        self.outbox.on_fenced = lambda where, _error: self.fenced.append(where)

    async def open(self) -> None:
        await self.outbox.open(TP, self.ownership)

    async def run(self, offset: int, request: ModelOnexEnvelope, *, finish: bool = True) -> bool:
        """Start ``offset`` and process it; finish its offset as the dispatcher does when it returns ``True``."""
        self.offsets.start(offset)
        record = InboundRecord(topic=TP.topic, partition=0, offset=offset, key=b"k", value=request.to_wire())
        done = await self.processor.process(record, self.ownership)
        if done and finish:
            self.offsets.finish(offset)
            self.outbox.records_finished(TP)  # as the dispatcher's on_finished does
        return done

    async def settle(self) -> None:
        for _ in range(50):
            await asyncio.sleep(0.01)

    def topics(self) -> list[str]:
        return [topic for topic, _key, _value in self.group.records]


async def echo(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
    return envelope.reply_success(dict(envelope.payload))


async def test_outputs_of_records_beyond_an_unfinished_one_wait_for_it() -> None:
    h = Harness()
    await h.open()
    h.offsets.start(0)  # running, not finished
    for offset in (1, 2):
        assert await h.run(offset, command(payload={"i": offset}))
    await h.settle()
    assert h.group.transactions == [], "a transaction carried replies whose records' offset it does not commit"
    h.offsets.finish(0)  # as if record 0 finished without outputs of its own: the prefix now reaches 3
    h.outbox.records_finished(TP)
    await h.settle()
    assert [offsets for _records, offsets in h.group.transactions] == [{TP: 3}]
    assert len(h.group.records) == 2
    await h.outbox.close([TP], within=1)


async def test_transactions_hold_at_most_max_records_and_commit_exactly_their_prefix() -> None:
    h = Harness(transaction_max_records=2)
    await h.open()
    h.offsets.start(0)
    for offset in range(1, 6):
        await h.run(offset, command(payload={"i": offset}))
    h.offsets.finish(0)
    h.outbox.records_finished(TP)
    await h.settle()
    committed = [offsets[TP] for _records, offsets in h.group.transactions]
    assert committed == sorted(committed)
    assert committed[-1] == 6
    for records, _offsets in h.group.transactions:
        assert len(records) <= 2
    assert len(h.group.records) == 5
    await h.outbox.close([TP], within=1)


async def test_a_reply_too_large_for_the_broker_becomes_an_error_reply_in_the_same_transaction() -> None:
    def step(topic: str, _key: bytes | None, value: bytes | None) -> BaseException | None:
        return MessageSizeTooLargeError() if value is not None and b"big" in value else None

    h = Harness(step)
    await h.open()
    await h.run(0, command(payload={"x": "big" * 10}))
    await h.settle()
    [(records, offsets)] = h.group.transactions
    assert offsets == {TP: 1}
    [(topic, _key, value)] = records
    assert topic == h.config.reply_topic
    reply = ModelOnexEnvelope.from_wire(value or b"")
    assert reply.error is not None
    assert "too large" in str(reply.error)
    await h.outbox.close([TP], within=1)


async def test_a_refused_reply_topic_dead_letters_the_command_in_the_same_transaction() -> None:
    h = Harness(lambda topic, _k, _v: TopicAuthorizationFailedError() if topic.endswith(".evt") else None)
    await h.open()
    await h.run(0, command())
    await h.settle()
    [(records, offsets)] = h.group.transactions
    assert offsets == {TP: 1}
    assert [topic for topic, _k, _v in records] == [h.config.effective_dead_letter_topic]
    await h.outbox.close([TP], within=1)


async def test_a_dead_letter_topic_that_refuses_holds_the_offset_until_it_accepts() -> None:
    refusing = {"on": True}

    def step(topic: str, _key: bytes | None, _value: bytes | None) -> BaseException | None:
        if topic.endswith(".dlq") and refusing["on"]:
            return TopicAuthorizationFailedError()
        return TopicAuthorizationFailedError() if topic.endswith(".evt") else None

    h = Harness(step)
    await h.open()
    await h.run(0, command())
    await asyncio.sleep(0.5)
    assert h.group.transactions == [], "committed past a record with no end"
    assert h.group.committed == {}
    assert h.producers.built[0].aborts >= 1
    refusing["on"] = False
    for _ in range(100):
        await asyncio.sleep(0.05)
        if h.group.transactions:
            break
    assert [offsets for _r, offsets in h.group.transactions] == [{TP: 1}]
    assert h.topics() == [h.config.effective_dead_letter_topic]
    await h.outbox.close([TP], within=1)


async def test_a_fenced_producer_drops_its_work_loses_ownership_and_tells_the_bus() -> None:
    h = Harness()
    await h.open()
    await h.run(0, command())
    await h.settle()
    assert len(h.group.transactions) == 1
    h.group.epochs[h.outbox.transactional_id(TP)] += 1  # a new owner started the same transactional id
    await h.run(1, command())
    await h.settle()
    assert len(h.group.transactions) == 1, "a fenced producer committed"
    assert not h.ownership.owned
    assert h.fenced
    record = InboundRecord(topic=TP.topic, partition=0, offset=2, key=b"k", value=command().to_wire())
    sent = await h.outbox.send_reply(Any, h.ownership, record)  # type: ignore[arg-type]
    assert sent.failure is SendFailure.OWNERSHIP_LOST
    await h.outbox.close([TP], within=1)


@pytest.mark.parametrize("commit_landed", [True, False])
async def test_a_commit_whose_outcome_is_unknown_is_settled_by_the_committed_offset(commit_landed: bool) -> None:
    calls = {"n": 0}
    h_ref: list[Harness] = []

    def commit_step() -> BaseException | str | None:
        calls["n"] += 1
        if calls["n"] == 1:
            if commit_landed:  # the broker committed, but the answer never came back
                h_ref[0].group.committed[TP] = 1
                h_ref[0].group.transactions.append(([("landed", None, None)], {TP: 1}))
            return "hang"
        return None

    h = Harness(commit_step=commit_step)
    h_ref.append(h)
    await h.open()
    await h.run(0, command())
    for _ in range(100):
        await asyncio.sleep(0.05)
        if len(h.producers.built) > 1 and h.group.committed:
            break
    await h.settle()
    assert h.group.committed == {TP: 1}
    replies = [r for r in h.group.records if r[0] == h.config.reply_topic]
    assert len(replies) == (0 if commit_landed else 1), "the reply was committed twice, or never"
    assert len(h.producers.built) == 2, "the producer was not restarted to settle the open transaction"
    await h.outbox.close([TP], within=1)


async def test_a_broker_outage_during_a_transaction_aborts_and_commits_the_same_outputs_later() -> None:
    calls = {"n": 0}

    def commit_step() -> BaseException | None:
        calls["n"] += 1
        return KafkaConnectionError() if calls["n"] <= 2 else None

    h = Harness(commit_step=commit_step)
    await h.open()
    await h.run(0, command())
    for _ in range(100):
        await asyncio.sleep(0.05)
        if h.group.transactions:
            break
    assert [offsets for _r, offsets in h.group.transactions] == [{TP: 1}]
    assert h.topics() == [h.config.reply_topic]
    await h.outbox.close([TP], within=1)


async def test_a_record_finishing_in_a_revokes_grace_period_is_committed_by_the_revokes_last_transaction() -> None:
    h = Harness(transaction_interval_ms=60_000)  # nothing commits before the revoke does
    await h.open()
    h.ownership.lose()  # the revoke started; running records get their grace period
    assert await h.run(0, command())
    await h.settle()  # the committer now waits out the interval
    assert h.group.transactions == []
    await h.outbox.close([TP], within=5)
    assert [offsets for _r, offsets in h.group.transactions] == [{TP: 1}]
    assert h.producers.built[0].stopped


async def test_a_producer_left_in_a_broken_state_is_replaced_not_retried_forever() -> None:
    """A broker restart mid-transaction can leave a producer whose every later send the broker rejects
    (``OutOfOrderSequenceNumber``: the aiokafka client keeps that error for good). Aborting and retrying with
    it never ends; it froze a partition in the broker-restart test on real Kafka. The producer is replaced
    (its id started again, which aborts its open transaction) and the kept outputs commit through the new one."""
    harnesses: list[Harness] = []

    def broken_first_producer(_topic: str, _key: bytes | None, _value: bytes | None) -> BaseException | None:
        return OutOfOrderSequenceNumber() if len(harnesses[0].producers.built) == 1 else None

    h = Harness(broken_first_producer)
    harnesses.append(h)
    await h.open()
    assert await h.run(0, command(payload={"i": 0}))
    for _ in range(100):
        if h.group.committed.get(TP) == 1:
            break
        await asyncio.sleep(0.05)
    assert h.group.committed.get(TP) == 1
    assert len(h.producers.built) == 2
    assert h.producers.built[0].stopped
    assert h.topics() == [h.config.response_topic]
    await h.outbox.close([TP], within=1)


async def test_an_epoch_error_on_a_send_is_a_fence_and_the_producer_is_not_started_again() -> None:
    """``InvalidProducerEpoch`` means a newer producer has this transactional id: another host owns the
    partition. Restarting the producer, as for a broken one, would fence that owner in turn."""
    h = Harness(lambda _topic, _key, _value: InvalidProducerEpoch())
    await h.open()
    assert await h.run(0, command(payload={"i": 0}))
    await h.settle()
    assert h.fenced
    assert not h.ownership.owned
    assert len(h.producers.built) == 1
    assert h.group.committed.get(TP) is None
    await h.outbox.close([TP], within=1)
