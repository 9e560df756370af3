"""Offset handover: the new primary group starts exactly where the legacy group stopped.

aiokafka's ``AIOKafkaAdminClient`` can read a group's committed offsets
(``list_consumer_group_offsets``) and describe its members, but has no
``alter_consumer_group_offsets``. So the offsets are committed by a consumer
that carries the target ``group_id``, is *assigned* the partitions (it never
joins the group) and calls ``commit(offsets)``. Kafka accepts such a commit
only while the group has no active members, which is exactly the state a
handover needs; a host that joins between the check and the commit makes the
broker reject it instead of silently mixing two positions.

Refusals, each a ``HandoverRefusedError`` (a ``ToolRefusedError``) with a
message naming what to do:

- the target group has active members: its hosts would keep their own
  positions (or overwrite the handed-over ones at their next commit);
- the source group has active members: it is still consuming, so the copied
  positions are stale the moment they are read (replay); stop it first, or
  accept the replay knowingly with ``allow_active_source``;
- the source group has no committed offset on a partition that holds
  records: where it stopped is unknown, and guessing either loses or replays.
  A partition that never held a record is handed over at its start.

Brokers that cannot be reached or fail are a ``BrokerUnreachableError``
(``map_kafka_errors``); group requests are retried while the cluster answers
"not yet" (``with_backoff``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from onex_host.infra.kafka_tools.backoff import with_backoff
from onex_host.infra.kafka_tools.errors import (
    BrokerUnreachableError,
    ToolRefusedError,
    UnknownTopicError,
    map_kafka_errors,
)
from onex_host.infra.kafka_tools.topics import topic_partitions

GROUP_NOT_FOUND_CODE = 69
IDLE_GROUP_STATES = frozenset({"Empty", "Dead", ""})


class HandoverRefusedError(ToolRefusedError):
    """The groups are not in a state where copying offsets is safe; the message says why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"handover refused: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class GroupState:
    group: str
    state: str
    members: int

    @property
    def active(self) -> bool:
        return self.members > 0 or self.state not in IDLE_GROUP_STATES


@dataclass(frozen=True)
class PartitionHandover:
    partition: int
    offset: int
    """What the target group will have committed: the source's offset (or the log start, see ``from_log_start``)."""
    target_before: int | None
    log_end: int
    from_log_start: bool = False

    @property
    def unconsumed(self) -> int:
        """Records after the handed-over offset: what the new primary will process first."""
        return max(self.log_end - self.offset, 0)


@dataclass(frozen=True)
class HandoverPlan:
    topic: str
    from_group: str
    to_group: str
    partitions: tuple[PartitionHandover, ...]
    source: GroupState
    target: GroupState

    def offsets(self) -> dict[TopicPartition, OffsetAndMetadata]:
        note = f"onex-host offsets handover from {self.from_group}"
        return {TopicPartition(self.topic, p.partition): OffsetAndMetadata(p.offset, note) for p in self.partitions}

    def render(self) -> str:
        lines = [
            f"handover of topic {self.topic!r}: group {self.from_group!r} -> group {self.to_group!r}",
            f"  source group state: {self.source.state or 'unknown'} ({self.source.members} members); "
            f"target group state: {self.target.state or 'unknown'} ({self.target.members} members)",
            f"  {'partition':>9}  {'commit offset':>13}  {'target had':>10}  {'log end':>9}  {'unconsumed':>10}",
        ]
        for p in self.partitions:
            had = "-" if p.target_before is None else str(p.target_before)
            note = "  (never committed by the source; the partition is empty)" if p.from_log_start else ""
            lines.append(f"  {p.partition:>9}  {p.offset:>13}  {had:>10}  {p.log_end:>9}  {p.unconsumed:>10}{note}")
        total = sum(p.unconsumed for p in self.partitions)
        lines.append(f"  the new primary resumes with {total} unconsumed records")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "from_group": self.from_group,
            "to_group": self.to_group,
            "partitions": [
                {
                    "partition": p.partition,
                    "offset": p.offset,
                    "target_before": p.target_before,
                    "log_end": p.log_end,
                    "unconsumed": p.unconsumed,
                    "from_log_start": p.from_log_start,
                }
                for p in self.partitions
            ],
        }


async def plan_handover(
    client_settings: Mapping[str, Any], topic: str, from_group: str, to_group: str, *, allow_active_source: bool = False
) -> HandoverPlan:
    """Read both groups and the topic; raises ``HandoverRefusedError`` or ``BrokerUnreachableError``."""
    if from_group == to_group:
        raise HandoverRefusedError(f"--from-group and --to-group are both {from_group!r}; nothing to hand over")
    admin = AIOKafkaAdminClient(**client_settings)
    consumer = AIOKafkaConsumer(**client_settings, group_id=None, enable_auto_commit=False)
    try:
        with map_kafka_errors(client_settings):
            await _start(admin, consumer)
            try:
                partitions = await topic_partitions(admin, [topic])
            except UnknownTopicError as exc:
                raise HandoverRefusedError(str(exc)) from None
            source, target = await _group_state(admin, from_group), await _group_state(admin, to_group)
            if target.active:
                raise HandoverRefusedError(
                    f"group {to_group!r} has {target.members} active member(s) (state {target.state}): stop the new "
                    "hosts (scale them to 0) before handing over, or they keep their own positions"
                )
            if source.active and not allow_active_source:
                raise HandoverRefusedError(
                    f"group {from_group!r} has {source.members} active member(s) (state {source.state}): the legacy "
                    "consumers are still moving its offsets; stop them first (or pass --allow-active-source to "
                    "accept replaying what they process after this read)"
                )
            committed = await _committed(admin, from_group, partitions)
            before = await _committed(admin, to_group, partitions)
            starts = await consumer.beginning_offsets(partitions)
            ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
        await admin.close()
    return HandoverPlan(
        topic=topic,
        from_group=from_group,
        to_group=to_group,
        partitions=_choose_offsets(topic, from_group, partitions, committed, before, starts, ends),
        source=source,
        target=target,
    )


async def apply_handover(client_settings: Mapping[str, Any], plan: HandoverPlan) -> None:
    """Commit the plan's offsets as ``plan.to_group``, then read them back to prove it."""
    offsets = plan.offsets()
    consumer = AIOKafkaConsumer(**client_settings, group_id=plan.to_group, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(**client_settings)
    try:
        with map_kafka_errors(client_settings):
            await _start(admin, consumer)
            consumer.assign(list(offsets))
            try:
                await with_backoff(lambda: consumer.commit(offsets))
            except KafkaError as exc:
                raise HandoverRefusedError(
                    f"Kafka refused the commit for group {plan.to_group!r} ({type(exc).__name__}): a host probably "
                    "joined it after the check; stop it and run the handover again"
                ) from None
            stored = await _committed(admin, plan.to_group, list(offsets))
    finally:
        await consumer.stop()
        await admin.close()
    wrong = {tp.partition: stored.get(tp) for tp, want in offsets.items() if stored.get(tp) != want.offset}
    if wrong:
        raise HandoverRefusedError(f"group {plan.to_group!r} reads back different offsets than committed: {wrong}")


async def wait_until_idle(
    client_settings: Mapping[str, Any], group: str, within: float, *, poll_seconds: float = 0.05
) -> bool:
    """Poll ``group`` until it has no active member (the legacy consumers left); False if it still has one
    after ``within`` seconds. One admin client for the whole wait, so a poll costs one round trip."""
    admin = AIOKafkaAdminClient(**client_settings)
    try:
        with map_kafka_errors(client_settings):
            await admin.start()
            deadline = time.monotonic() + within
            while (await _group_state(admin, group)).active:
                if time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(poll_seconds)
            return True
    finally:
        await admin.close()


# -- pieces --------------------------------------------------------------------------------


async def _start(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> None:
    # Both are stopped by the caller's ``finally``, started or not.
    await admin.start()
    await consumer.start()


async def _group_state(admin: AIOKafkaAdminClient, group: str) -> GroupState:
    for response in await with_backoff(lambda: admin.describe_consumer_groups([group])):
        for described in response.to_object()["groups"]:
            if described["group"] != group:
                # aiokafka misparses Kafka 4's answer for an unknown group (its name comes back empty)
                continue
            if described["error_code"] == GROUP_NOT_FOUND_CODE:
                return GroupState(group, "Dead", 0)
            if described["error_code"]:
                raise BrokerUnreachableError(f"describing group {group!r} failed with error {described['error_code']}")
            return GroupState(group, described["state"], len(described["members"]))
    return GroupState(group, "Dead", 0)


async def _committed(
    admin: AIOKafkaAdminClient, group: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """Committed offsets of ``group``; partitions it never committed are absent."""
    found = await with_backoff(lambda: admin.list_consumer_group_offsets(group, partitions=partitions))
    return {tp: meta.offset for tp, meta in found.items() if meta.offset >= 0}


def _choose_offsets(
    topic: str,
    from_group: str,
    partitions: list[TopicPartition],
    committed: Mapping[TopicPartition, int],
    before: Mapping[TopicPartition, int],
    starts: Mapping[TopicPartition, int],
    ends: Mapping[TopicPartition, int],
) -> tuple[PartitionHandover, ...]:
    if not committed:
        raise HandoverRefusedError(
            f"group {from_group!r} has no committed offsets for topic {topic!r}: check the group name "
            "(the legacy consumers' group.id) and that they commit offsets"
        )
    unknown = [tp.partition for tp in partitions if tp not in committed and ends[tp] > starts[tp]]
    if unknown:
        raise HandoverRefusedError(
            f"group {from_group!r} never committed partition(s) {unknown} of {topic!r}, which hold records: "
            "where it stopped there is unknown, so handing over would lose or replay them"
        )
    return tuple(
        PartitionHandover(
            partition=tp.partition,
            offset=committed.get(tp, starts[tp]),
            target_before=before.get(tp),
            log_end=ends[tp],
            from_log_start=tp not in committed,
        )
        for tp in partitions
    )
