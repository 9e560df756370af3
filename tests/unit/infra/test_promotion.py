"""``StandbyPromotion``: one promotion, in order (handover, then join), refused when it must be.

Its collaborators (join, handover, the host's lifecycle) are plain callables,
so these tests script them; the endpoint and the real process are attacked in
tests/security/admin_endpoint, and the Kafka handover and join run in the
cutover test on a real broker.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from onex_host.infra.promotion import PromotionBlockedError, PromotionOutcome, StandbyPromotion


class Host:
    """What the promotion drives: records the order of calls, can be made to fail or hang."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.problem: str | None = None
        self.join_failures: list[BaseException] = []
        self.handover_failures: list[BaseException] = []
        self.join_gate = asyncio.Event()
        self.join_gate.set()

    async def join(self) -> None:
        self.calls.append("join")
        await self.join_gate.wait()
        if self.join_failures:
            raise self.join_failures.pop(0)

    async def hand_over(self, group: str, wait_idle_seconds: float) -> dict[str, Any]:
        self.calls.append(f"handover:{group}")
        if self.handover_failures:
            raise self.handover_failures.pop(0)
        return {"from_group": group, "partitions": []}

    def promotion(self, *, standby: bool = True, handover: bool = True) -> StandbyPromotion:
        return StandbyPromotion(
            standby=standby,
            join=self.join,
            can_promote=lambda: self.problem,
            hand_over=self.hand_over if handover else None,
            mode="primary",
        )


async def test_promotion_hands_over_before_it_joins() -> None:
    host = Host()
    promotion = host.promotion()
    result = await promotion.promote("legacy")
    assert result.outcome is PromotionOutcome.PROMOTED
    assert host.calls == ["handover:legacy", "join"]
    assert result.handover == {"from_group": "legacy", "partitions": []}
    assert (promotion.standby, result.state) == (False, "active")


async def test_a_second_promotion_does_nothing_and_says_so() -> None:
    host = Host()
    promotion = host.promotion()
    await promotion.promote("legacy")
    again = await promotion.promote("legacy")
    assert again.outcome is PromotionOutcome.ALREADY_ACTIVE
    assert host.calls == ["handover:legacy", "join"]  # no second handover over a consuming group


async def test_concurrent_promotions_join_once() -> None:
    host = Host()
    host.join_gate.clear()
    promotion = host.promotion()
    calls = [asyncio.create_task(promotion.promote()) for _ in range(5)]
    await asyncio.sleep(0.01)
    host.join_gate.set()
    outcomes = sorted(r.outcome.value for r in await asyncio.gather(*calls))
    assert outcomes == ["already_active"] * 4 + ["promoted"]
    assert host.calls == ["join"]


async def test_a_host_that_is_not_active_is_never_promoted() -> None:
    host = Host()
    host.problem = "the host is stopping"
    promotion = host.promotion()
    result = await promotion.promote("legacy")
    assert (result.outcome, result.detail) == (PromotionOutcome.NOT_NOW, "the host is stopping")
    assert host.calls == []
    assert promotion.standby


async def test_a_refused_handover_leaves_the_host_in_standby_and_can_be_retried() -> None:
    host = Host()
    host.handover_failures.append(PromotionBlockedError(PromotionOutcome.REFUSED, "handover refused: active source"))
    promotion = host.promotion()
    refused = await promotion.promote("legacy")
    assert (refused.outcome, refused.detail) == (PromotionOutcome.REFUSED, "handover refused: active source")
    assert promotion.standby
    assert host.calls == ["handover:legacy"]
    assert (await promotion.promote("legacy")).outcome is PromotionOutcome.PROMOTED


async def test_a_failed_join_leaves_the_host_in_standby() -> None:
    host = Host()
    host.join_failures.append(ConnectionError("brokers unreachable"))
    promotion = host.promotion()
    failed = await promotion.promote()
    assert failed.outcome is PromotionOutcome.UNAVAILABLE
    assert promotion.standby
    assert (await promotion.promote()).outcome is PromotionOutcome.PROMOTED


async def test_a_handover_needs_consumer_groups() -> None:
    host = Host()
    promotion = host.promotion(handover=False)
    result = await promotion.promote("legacy")
    assert result.outcome is PromotionOutcome.REFUSED
    assert "kafka" in result.detail
    assert promotion.standby
    assert host.calls == []


async def test_a_host_started_active_is_already_active() -> None:
    host = Host()
    assert (await host.promotion(standby=False).promote()).outcome is PromotionOutcome.ALREADY_ACTIVE
    assert host.calls == []


async def test_settled_waits_for_a_promotion_in_flight() -> None:
    host = Host()
    host.join_gate.clear()
    promotion = host.promotion()
    promoting = asyncio.create_task(promotion.promote())
    await asyncio.sleep(0.01)
    settled = asyncio.create_task(promotion.settled())
    await asyncio.sleep(0.01)
    assert not settled.done()
    host.join_gate.set()
    await asyncio.wait_for(settled, 1)
    assert (await promoting).outcome is PromotionOutcome.PROMOTED


@pytest.mark.parametrize("outcome", list(PromotionOutcome))
def test_every_outcome_has_an_http_status(outcome: PromotionOutcome) -> None:
    from onex_host.infra.http_api import _PROMOTION_STATUS

    assert outcome in _PROMOTION_STATUS


async def test_a_host_that_began_stopping_during_the_handover_does_not_join() -> None:
    host = Host()
    promotion = host.promotion()
    real_hand_over = host.hand_over

    async def hand_over_then_stop(group: str, wait_idle_seconds: float) -> dict[str, Any]:
        plan = await real_hand_over(group, wait_idle_seconds)
        host.problem = "the host is stopping"  # SIGTERM while waiting for the legacy group to empty
        return plan

    promotion._hand_over = hand_over_then_stop
    result = await promotion.promote("legacy", wait_idle_seconds=30)
    assert result.outcome is PromotionOutcome.NOT_NOW
    assert host.calls == ["handover:legacy"]
    assert promotion.standby
