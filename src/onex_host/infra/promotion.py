"""Promotion of a standby host: from warm and idle to consuming, by one call, once.

A host started with ``--standby`` is fully started (contracts loaded, handlers
initialised, endpoints serving, the bus *prepared*: on Kafka the producer is
connected and the cluster metadata loaded) but it is in no consumer group and
consumes nothing. What a cutover waits for after the legacy consumers stop is
then only what cannot be done beforehand: the offset handover and the group
join. ``StandbyPromotion.promote`` does exactly those two, in that order, so a
host that joins the group finds the handed-over offsets already committed.

Rules, each one a guarantee the admin endpoint relies on:

* one promotion at a time: a second call waits for the first and is then
  answered ``already_active`` (idempotent: a retried call cannot join twice
  or hand over again after the host consumes);
* refused while the host is starting or stopping, and a stop waits for a
  promotion in flight (``settled``) before it stops the bus, so a bus is never
  started after it was stopped;
* a refused handover (the groups are not idle, no legacy offsets) or brokers
  that cannot be reached leave the host in standby, so the call can be
  repeated once the cause is fixed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from onex_host.core.scrubbing import scrub

if TYPE_CHECKING:
    from onex_host.infra.bus.base import BusConfig

logger = logging.getLogger(__name__)

HandOver = Callable[[str, float], Awaitable[dict[str, Any]]]
"""``(from_group, wait_idle_seconds)``: waits up to that long for ``from_group`` to have no member, then copies
its committed offsets to the host's own group; returns the plan as JSON, or raises ``PromotionBlockedError``."""


class PromotionOutcome(StrEnum):
    PROMOTED = "promoted"
    ALREADY_ACTIVE = "already_active"
    NOT_NOW = "not_now"
    """Still starting, or stopping: nothing was done."""
    REFUSED = "refused"
    """The handover was refused (groups not idle, offsets unknown) or cannot run here; still standby."""
    UNAVAILABLE = "unavailable"
    """The brokers could not be reached for the handover or the join; still standby."""


class PromotionBlockedError(Exception):
    """The handover did not happen, for a reason the caller can fix; the host stays in standby."""

    def __init__(self, outcome: PromotionOutcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


@dataclass(frozen=True)
class PromotionResult:
    outcome: PromotionOutcome
    detail: str
    state: str
    seconds: float | None = None
    handover: dict[str, Any] | None = field(default=None)

    def as_json(self) -> dict[str, Any]:
        # Through the scrubber like every output: a broker's error text could quote a configured secret.
        body: dict[str, Any] = {"outcome": self.outcome.value, "state": self.state, "detail": scrub(self.detail)}
        if self.seconds is not None:
            body["seconds"] = round(self.seconds, 3)
        if self.handover is not None:
            body["handover"] = self.handover
        return body


class StandbyPromotion:
    """The standby/active state of one host and the single way from the first to the second."""

    def __init__(
        self,
        *,
        standby: bool,
        join: Callable[[], Awaitable[None]],
        can_promote: Callable[[], str | None],
        hand_over: HandOver | None,
        mode: str,
    ) -> None:
        """``join``: start consuming; ``can_promote``: why not now (starting, stopping), or ``None``;
        ``hand_over``: ``None`` when the bus has no consumer groups (memory bus)."""
        self._standby = standby
        self._join = join
        self._can_promote = can_promote
        self._hand_over = hand_over
        self._mode = mode
        self._lock = asyncio.Lock()

    @property
    def standby(self) -> bool:
        return self._standby

    @property
    def state(self) -> str:
        return "standby" if self._standby else "active"

    async def settled(self) -> None:
        """Returns once no promotion is in flight (a stopping host waits here before stopping its bus)."""
        async with self._lock:
            return

    async def promote(self, handover_from: str | None = None, wait_idle_seconds: float = 0.0) -> PromotionResult:
        """Hand over from ``handover_from`` (when given), then join; see the module docstring for the rules.

        ``wait_idle_seconds``: the call may be made *before* the legacy consumers are stopped; the host
        then hands over the moment their group is empty, so neither the operator nor a tool's start-up
        stands between the last legacy reply and the join.
        """
        async with self._lock:
            if not self._standby:
                return self._result(PromotionOutcome.ALREADY_ACTIVE, f"already active (consuming as {self._mode})")
            problem = self._can_promote()
            if problem is not None:
                return self._result(PromotionOutcome.NOT_NOW, problem)
            started = time.perf_counter()
            handover: dict[str, Any] | None = None
            if handover_from is not None:
                if self._hand_over is None:
                    return self._result(
                        PromotionOutcome.REFUSED, "an offset handover needs a kafka event bus; this host has none"
                    )
                try:
                    handover = await self._hand_over(handover_from, wait_idle_seconds)
                except PromotionBlockedError as exc:
                    return self._result(exc.outcome, exc.detail)
                problem = self._can_promote()  # a wait may have outlasted the host
                if problem is not None:
                    return self._result(PromotionOutcome.NOT_NOW, problem)
            try:
                await self._join()
            except ConnectionError as exc:  # KafkaUnavailableError: the join can simply be asked for again
                return self._result(PromotionOutcome.UNAVAILABLE, f"joining failed: {exc}")
            self._standby = False
            seconds = time.perf_counter() - started
            logger.info(
                "standby host promoted",
                extra={"mode": self._mode, "handover_from": handover_from, "seconds": round(seconds, 3)},
            )
            return self._result(
                PromotionOutcome.PROMOTED, f"promoted: consuming as {self._mode}", seconds=seconds, handover=handover
            )

    def _result(
        self,
        outcome: PromotionOutcome,
        detail: str,
        *,
        seconds: float | None = None,
        handover: dict[str, Any] | None = None,
    ) -> PromotionResult:
        if outcome in (PromotionOutcome.REFUSED, PromotionOutcome.UNAVAILABLE, PromotionOutcome.NOT_NOW):
            logger.warning("promotion not done", extra={"outcome": outcome.value, "detail": detail})
        return PromotionResult(outcome, detail, self.state, seconds=seconds, handover=handover)


def kafka_handover(bus_config: BusConfig, *, target_idle: Callable[[list[int]], None] | None = None) -> HandOver:
    """The in-process ``onex-host offsets handover`` for the host's own Kafka bus.

    Same checks and the same commit-and-read-back as the CLI tool, run by the
    warm host instead of a new process: the target is this host's own consumer
    group and its command topic, and an active source is always refused.

    ``target_idle(partitions)`` is told once the plan has found this host's
    group empty: nobody owns those partitions, so an ``exactly_once`` bus may
    start their transactional producers now, beside the handover and the
    join, instead of after the join (``KafkaEventBus.warm_transactions``).
    """
    from onex_host.infra.bus.kafka.config import KafkaBusConfig  # only for a kafka host: aiokafka is loaded then

    if not isinstance(bus_config, KafkaBusConfig):
        raise TypeError(f"an offset handover needs a kafka bus config, not {type(bus_config).__name__}")
    config = bus_config

    async def hand_over(from_group: str, wait_idle_seconds: float) -> dict[str, Any]:
        from onex_host.infra.kafka_tools.errors import BrokerUnreachableError, KafkaToolError
        from onex_host.infra.kafka_tools.handover import apply_handover, plan_handover, wait_until_idle

        settings = config.client_settings()
        try:
            if wait_idle_seconds > 0:
                # Still active afterwards: plan_handover refuses, saying so.
                await wait_until_idle(settings, from_group, wait_idle_seconds)
            plan = await plan_handover(settings, config.command_topic, from_group, config.effective_consumer_group)
            if target_idle is not None:
                target_idle([p.partition for p in plan.partitions])
            await apply_handover(settings, plan)
        except BrokerUnreachableError as exc:
            raise PromotionBlockedError(PromotionOutcome.UNAVAILABLE, str(exc)) from None
        except KafkaToolError as exc:
            raise PromotionBlockedError(PromotionOutcome.REFUSED, str(exc)) from None
        return plan.as_json()

    return hand_over
