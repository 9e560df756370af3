from __future__ import annotations

import pytest
from aiokafka import TopicPartition

from onex_host.infra.kafka_tools.handover import (
    GroupState,
    HandoverPlan,
    HandoverRefusedError,
    PartitionHandover,
    _choose_offsets,
)

T = "commands"
P0, P1, P2 = (TopicPartition(T, n) for n in range(3))


def test_the_source_offsets_are_handed_over_partition_by_partition() -> None:
    chosen = _choose_offsets(
        T, "legacy", [P0, P1], {P0: 10, P1: 4}, {P1: 7}, starts={P0: 0, P1: 0}, ends={P0: 12, P1: 4}
    )
    assert chosen == (
        PartitionHandover(0, offset=10, target_before=None, log_end=12),
        PartitionHandover(1, offset=4, target_before=7, log_end=4),
    )
    assert [p.unconsumed for p in chosen] == [2, 0]


def test_a_source_without_any_committed_offset_is_refused() -> None:
    with pytest.raises(HandoverRefusedError, match="group 'legacy' has no committed offsets for topic 'commands'"):
        _choose_offsets(T, "legacy", [P0], {}, {}, starts={P0: 0}, ends={P0: 5})


def test_an_uncommitted_partition_holding_records_is_refused() -> None:
    with pytest.raises(HandoverRefusedError, match=r"never committed partition\(s\) \[1\] of 'commands'"):
        _choose_offsets(T, "legacy", [P0, P1], {P0: 3}, {}, starts={P0: 0, P1: 2}, ends={P0: 3, P1: 5})


def test_an_uncommitted_empty_partition_starts_at_its_log_start() -> None:
    chosen = _choose_offsets(T, "legacy", [P0, P2], {P0: 3}, {}, starts={P0: 0, P2: 9}, ends={P0: 3, P2: 9})
    assert chosen[1] == PartitionHandover(2, offset=9, target_before=None, log_end=9, from_log_start=True)


@pytest.mark.parametrize(
    ("state", "members", "active"),
    [("Empty", 0, False), ("Dead", 0, False), ("Stable", 2, True), ("PreparingRebalance", 0, True)],
)
def test_a_group_is_active_when_it_has_members_or_is_rebalancing(state: str, members: int, active: bool) -> None:
    assert GroupState("g", state, members).active is active


def test_the_plan_renders_each_partition_and_commits_with_an_audit_note() -> None:
    plan = HandoverPlan(
        topic=T,
        from_group="legacy",
        to_group="onex",
        partitions=(PartitionHandover(0, 10, None, 12), PartitionHandover(1, 9, 3, 9, from_log_start=True)),
        source=GroupState("legacy", "Empty", 0),
        target=GroupState("onex", "Dead", 0),
    )
    text = plan.render()
    assert "group 'legacy' -> group 'onex'" in text
    assert "the new primary resumes with 2 unconsumed records" in text
    assert "(never committed by the source; the partition is empty)" in text
    offsets = plan.offsets()
    assert offsets[P0].offset == 10
    assert offsets[P0].metadata == "onex-host offsets handover from legacy"
    assert plan.as_json()["partitions"][1]["from_log_start"] is True
