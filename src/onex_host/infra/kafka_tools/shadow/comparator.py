"""Pairs legacy and shadow replies by correlation id and judges each pair.

Pure: no Kafka, no clock of its own. The caller feeds replies in arrival
order with ``observe`` and decides when unpaired replies are overdue: by
arrival (``expire(now)``, on the clock of ``ObservedReply.arrived_at``) while
reading live, by reply time (``expire_stamped_before``) once a read of what
the topics already held has caught up. While such a backlog is being read the
two topics need not advance at the same pace, so nothing is expired then.

Outcomes, and how they count toward the match rate:

- ``match`` / ``mismatch``: both sides answered; the documents agree or not,
  ignoring the configured fields. Both count.
- ``shadow_skipped``: the shadow declined to run an operation with side
  effects. It proves nothing either way, so it is counted apart and left out.
- ``missing_in_shadow``: legacy answered, the shadow did not within the
  window. Counts as a disagreement: the shadow would have lost that reply.
- ``missing_in_legacy``: only the shadow answered. Reported, but left out of
  the rate: legacy is the reference, and this is usually the edge of the
  read (legacy answered before the reader started) or a legacy fault.

A reply whose partner is still within the window when a bounded run ends is
``pending`` and left out too, and so is an unpaired reply from the first
window after the read started (``edge_until``): its partner may have been
published just before. The edges of a run are never misjudged.
"""

from __future__ import annotations

import statistics
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from onex_host.infra.kafka_tools.shadow.diff import FieldDifference, diff_fields
from onex_host.infra.kafka_tools.shadow.ignore import IgnoreRules
from onex_host.infra.kafka_tools.shadow.observed import ObservedReply, Side

DEFAULT_SAMPLE_LIMIT = 20
RESOLVED_MEMORY = 200_000
"""Correlation ids remembered after their pair is judged, to tell a duplicate or
a late reply from a new one. Bounded so a ``--follow`` run has flat memory."""
LATENCY_SAMPLES = 100_000


class Outcome(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    SHADOW_SKIPPED = "shadow_skipped"
    MISSING_IN_SHADOW = "missing_in_shadow"
    MISSING_IN_LEGACY = "missing_in_legacy"


RATED_OUTCOMES = (Outcome.MATCH, Outcome.MISMATCH, Outcome.MISSING_IN_SHADOW)


@dataclass(frozen=True)
class Mismatch:
    correlation_id: str
    operation: str | None
    differences: tuple[FieldDifference, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "correlation_id": self.correlation_id,
            "operation": self.operation,
            "differences": [d.as_json() for d in self.differences],
        }


@dataclass(frozen=True)
class LatencySummary:
    """Shadow reply time minus legacy reply time, per pair, in seconds (positive: shadow slower).

    Both sides answer the same request, so this is the difference of their
    latencies without needing the request's own timestamp; it assumes the two
    deployments' clocks agree (NTP-level skew shows up as an offset).
    """

    samples: int
    mean: float
    p50: float
    p95: float
    max: float

    @classmethod
    def of(cls, deltas: list[float]) -> LatencySummary | None:
        if not deltas:
            return None
        ordered = sorted(deltas)
        return cls(
            samples=len(ordered),
            mean=statistics.fmean(ordered),
            p50=ordered[(len(ordered) - 1) // 2],
            p95=ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
            max=ordered[-1],
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "mean_ms": round(self.mean * 1000, 3),
            "p50_ms": round(self.p50 * 1000, 3),
            "p95_ms": round(self.p95 * 1000, 3),
            "max_ms": round(self.max * 1000, 3),
        }


@dataclass(frozen=True)
class ComparisonReport:
    counts: Mapping[Outcome, int]
    duplicates: Mapping[Side, int]
    late: Mapping[Side, int]
    undecodable: Mapping[Side, int]
    pending: int
    unpaired_at_start: int
    mismatches: tuple[Mismatch, ...]
    missing: Mapping[Outcome, tuple[str, ...]]
    latency: LatencySummary | None
    ignored_fields: tuple[str, ...]
    window_seconds: float

    @property
    def rated(self) -> int:
        """Pairs that count toward the match rate."""
        return sum(self.counts[outcome] for outcome in RATED_OUTCOMES)

    @property
    def match_rate(self) -> float | None:
        """Matches over rated pairs; None when nothing was rated (no evidence either way)."""
        return self.counts[Outcome.MATCH] / self.rated if self.rated else None

    def passes(self, min_match: float) -> bool:
        """A gate: false when nothing was compared, since no evidence is not a pass."""
        rate = self.match_rate
        return rate is not None and rate >= min_match

    def as_json(self) -> dict[str, Any]:
        return {
            "match_rate": self.match_rate,
            "rated": self.rated,
            "counts": {outcome.value: self.counts[outcome] for outcome in Outcome},
            "pending": self.pending,
            "unpaired_at_start": self.unpaired_at_start,
            "duplicates": {side.value: n for side, n in self.duplicates.items()},
            "late": {side.value: n for side, n in self.late.items()},
            "undecodable": {side.value: n for side, n in self.undecodable.items()},
            "latency_difference": self.latency.as_json() if self.latency else None,
            "mismatches": [m.as_json() for m in self.mismatches],
            "missing": {outcome.value: list(ids) for outcome, ids in self.missing.items()},
            "ignored_fields": list(self.ignored_fields),
            "window_seconds": self.window_seconds,
        }


OutcomeListener = Callable[[Outcome, float | None], None]
"""Called once per judged pair with its outcome and latency difference (seconds, if paired)."""


@dataclass
class ReplyComparator:
    ignore: IgnoreRules
    window_seconds: float
    sample_limit: int = DEFAULT_SAMPLE_LIMIT
    listener: OutcomeListener | None = None
    edge_until: float | None = None
    """Epoch seconds: an unpaired reply stamped earlier is ``unpaired_at_start``, not missing."""

    _pending: OrderedDict[str, ObservedReply] = field(default_factory=OrderedDict, init=False)
    _resolved: OrderedDict[str, set[Side]] = field(default_factory=OrderedDict, init=False)
    _counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0), init=False)
    _duplicates: dict[Side, int] = field(default_factory=lambda: dict.fromkeys(Side, 0), init=False)
    _late: dict[Side, int] = field(default_factory=lambda: dict.fromkeys(Side, 0), init=False)
    _undecodable: dict[Side, int] = field(default_factory=lambda: dict.fromkeys(Side, 0), init=False)
    _mismatches: list[Mismatch] = field(default_factory=list, init=False)
    _missing: dict[Outcome, list[str]] = field(
        default_factory=lambda: {Outcome.MISSING_IN_SHADOW: [], Outcome.MISSING_IN_LEGACY: []}, init=False
    )
    _latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES), init=False)
    _unpaired_at_start: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.window_seconds <= 0:
            raise ValueError("the pairing window must be positive")

    @property
    def judged(self) -> int:
        """Correlation ids judged so far, whatever the outcome."""
        return sum(self._counts.values())

    @property
    def pending(self) -> int:
        return len(self._pending)

    def observe_undecodable(self, side: Side) -> None:
        """A record on ``side``'s topic that is not a reply (not JSON, no correlation id)."""
        self._undecodable[side] += 1

    def observe(self, reply: ObservedReply) -> Outcome | None:
        """Take one reply; returns the outcome if it completed a pair, else None."""
        cid = reply.correlation_id
        sides_seen = self._resolved.get(cid)
        if sides_seen is not None:
            if reply.side in sides_seen:
                self._duplicates[reply.side] += 1
            else:
                sides_seen.add(reply.side)
                self._late[reply.side] += 1
            return None
        waiting = self._pending.get(cid)
        if waiting is None:
            self._pending[cid] = reply
            return None
        if waiting.side is reply.side:
            self._duplicates[reply.side] += 1
            return None
        del self._pending[cid]
        legacy, shadow = (waiting, reply) if waiting.side is Side.LEGACY else (reply, waiting)
        return self._judge_pair(legacy, shadow)

    def expire(self, now: float) -> int:
        """Judge every reply whose partner did not arrive within the window; returns how many."""
        expired = 0
        while self._pending:
            cid, oldest = next(iter(self._pending.items()))
            if now - oldest.arrived_at < self.window_seconds:
                break
            del self._pending[cid]
            self._judge_unpaired(oldest)
            expired += 1
        return expired

    def expire_stamped_before(self, epoch: float, *, now: float) -> int:
        """Judge every pending reply stamped before ``epoch`` (epoch seconds) as unpaired.

        For a read that caught up with the topics: a partner of a reply stamped
        a window before the read's end would have been read already. The
        replies left pending get a fresh window from ``now``, since they may
        have been read long before the backlog was through.
        """
        overdue = [reply for reply in self._pending.values() if reply.replied_at < epoch]
        for reply in overdue:
            del self._pending[reply.correlation_id]
            self._judge_unpaired(reply)
        for cid, reply in self._pending.items():
            self._pending[cid] = replace(reply, arrived_at=now)
        return len(overdue)

    def report(self) -> ComparisonReport:
        return ComparisonReport(
            counts=dict(self._counts),
            duplicates=dict(self._duplicates),
            late=dict(self._late),
            undecodable=dict(self._undecodable),
            pending=len(self._pending),
            unpaired_at_start=self._unpaired_at_start,
            mismatches=tuple(self._mismatches),
            missing={outcome: tuple(ids) for outcome, ids in self._missing.items()},
            latency=LatencySummary.of(list(self._latencies)),
            ignored_fields=tuple(self.ignore.describe()),
            window_seconds=self.window_seconds,
        )

    # -- internals ----------------------------------------------------------------------

    def _judge_pair(self, legacy: ObservedReply, shadow: ObservedReply) -> Outcome:
        delta = shadow.replied_at - legacy.replied_at
        if shadow.shadow_skipped:
            outcome = Outcome.SHADOW_SKIPPED
        else:
            differences = diff_fields(legacy.document, shadow.document, self.ignore)
            outcome = Outcome.MISMATCH if differences else Outcome.MATCH
            if differences and len(self._mismatches) < self.sample_limit:
                operation = legacy.document.get("operation")
                named = operation if isinstance(operation, str) else None
                self._mismatches.append(Mismatch(legacy.correlation_id, named, tuple(differences)))
            self._latencies.append(delta)
        self._record(legacy.correlation_id, {Side.LEGACY, Side.SHADOW}, outcome, delta)
        return outcome

    def _record(self, cid: str, sides: set[Side], outcome: Outcome, delta: float | None) -> None:
        self._counts[outcome] += 1
        self._remember(cid, sides)
        if self.listener is not None:
            self.listener(outcome, delta if outcome in (Outcome.MATCH, Outcome.MISMATCH) else None)

    def _judge_unpaired(self, reply: ObservedReply) -> None:
        if self.edge_until is not None and reply.replied_at < self.edge_until:
            self._unpaired_at_start += 1
            self._remember(reply.correlation_id, {reply.side})
            return
        outcome = Outcome.MISSING_IN_SHADOW if reply.side is Side.LEGACY else Outcome.MISSING_IN_LEGACY
        self._record(reply.correlation_id, {reply.side}, outcome, None)
        examples = self._missing[outcome]
        if len(examples) < self.sample_limit:
            examples.append(reply.correlation_id)

    def _remember(self, cid: str, sides: set[Side]) -> None:
        self._resolved[cid] = sides
        if len(self._resolved) > RESOLVED_MEMORY:
            self._resolved.popitem(last=False)
