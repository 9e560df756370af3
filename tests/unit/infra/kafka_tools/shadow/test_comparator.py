from __future__ import annotations

from typing import Any

import pytest

from onex_host.infra.kafka_tools.shadow.comparator import LatencySummary, Outcome, ReplyComparator
from onex_host.infra.kafka_tools.shadow.ignore import IgnoreRules
from onex_host.infra.kafka_tools.shadow.observed import ObservedReply, Side


def reply(
    side: Side,
    cid: str,
    at: float,
    payload: dict[str, Any] | None = None,
    *,
    replied_at: float | None = None,
    **extra: Any,
) -> ObservedReply:
    document = {"correlation_id": cid, "operation": "echo", "success": True, "payload": payload or {}, **extra}
    return ObservedReply(side, cid, document, arrived_at=at, replied_at=at if replied_at is None else replied_at)


def comparator(window: float = 5.0, **kwargs: Any) -> ReplyComparator:
    return ReplyComparator(IgnoreRules.from_patterns(["payload.generated_at"]), window, **kwargs)


def test_identical_replies_in_either_order_match() -> None:
    c = comparator()
    assert c.observe(reply(Side.LEGACY, "a", 0.0, {"n": 1})) is None
    assert c.observe(reply(Side.SHADOW, "a", 0.1, {"n": 1, "generated_at": "x"})) is Outcome.MATCH
    assert c.observe(reply(Side.SHADOW, "b", 0.2)) is None
    assert c.observe(reply(Side.LEGACY, "b", 0.3)) is Outcome.MATCH
    report = c.report()
    assert report.counts[Outcome.MATCH] == 2
    assert report.match_rate == 1.0
    assert report.pending == 0


def test_a_changed_reply_is_a_mismatch_with_its_field_diff() -> None:
    c = comparator()
    c.observe(reply(Side.LEGACY, "a", 0.0, {"n": 1}))
    assert c.observe(reply(Side.SHADOW, "a", 0.0, {"n": 2})) is Outcome.MISMATCH
    c.observe(reply(Side.LEGACY, "b", 0.0))
    c.observe(reply(Side.SHADOW, "b", 0.0))
    report = c.report()
    assert report.match_rate == 0.5
    [mismatch] = report.mismatches
    assert mismatch.correlation_id == "a"
    assert mismatch.operation == "echo"
    assert [(d.path, d.legacy, d.shadow) for d in mismatch.differences] == [("payload.n", 1, 2)]


def test_shadow_skipped_is_counted_apart_and_never_lowers_the_rate() -> None:
    c = comparator()
    c.observe(reply(Side.LEGACY, "w", 0.0, {"rows": 1}))
    outcome = c.observe(reply(Side.SHADOW, "w", 0.0, {"would_run": {}}, success=False, error_code="shadow_skipped"))
    assert outcome is Outcome.SHADOW_SKIPPED
    c.observe(reply(Side.LEGACY, "r", 0.0))
    c.observe(reply(Side.SHADOW, "r", 0.0))
    report = c.report()
    assert report.counts[Outcome.SHADOW_SKIPPED] == 1
    assert report.rated == 1
    assert report.match_rate == 1.0
    assert report.mismatches == ()


def test_a_reply_without_partner_in_the_window_is_missing_on_the_other_side() -> None:
    c = comparator(window=1.0)
    c.observe(reply(Side.LEGACY, "only-legacy", 0.0))
    c.observe(reply(Side.SHADOW, "only-shadow", 0.5))
    assert c.expire(0.9) == 0
    assert c.expire(1.0) == 1  # exactly one window old
    assert c.expire(10.0) == 1
    report = c.report()
    assert report.counts[Outcome.MISSING_IN_SHADOW] == 1
    assert report.counts[Outcome.MISSING_IN_LEGACY] == 1
    assert report.missing[Outcome.MISSING_IN_SHADOW] == ("only-legacy",)
    assert report.missing[Outcome.MISSING_IN_LEGACY] == ("only-shadow",)
    # missing in shadow is a disagreement; missing in legacy is reported but not rated
    assert report.rated == 1
    assert report.match_rate == 0.0


def test_observing_never_expires_the_caller_decides_when() -> None:
    c = comparator(window=1.0)
    c.observe(reply(Side.LEGACY, "a", 0.0))
    c.observe(reply(Side.LEGACY, "b", 2.0))
    assert c.pending == 2
    c.expire(2.5)
    assert c.report().counts[Outcome.MISSING_IN_SHADOW] == 1
    assert c.pending == 1


def test_a_partner_arriving_after_its_window_is_late_not_a_new_reply() -> None:
    c = comparator(window=1.0)
    c.observe(reply(Side.LEGACY, "a", 0.0))
    c.expire(2.0)
    assert c.observe(reply(Side.SHADOW, "a", 2.5)) is None
    report = c.report()
    assert report.late == {Side.LEGACY: 0, Side.SHADOW: 1}
    assert report.pending == 0
    assert report.duplicates == {Side.LEGACY: 0, Side.SHADOW: 0}


def test_duplicates_are_counted_per_side_whether_pending_or_judged() -> None:
    c = comparator()
    c.observe(reply(Side.LEGACY, "a", 0.0))
    c.observe(reply(Side.LEGACY, "a", 0.1))
    c.observe(reply(Side.SHADOW, "a", 0.2))
    c.observe(reply(Side.SHADOW, "a", 0.3))
    report = c.report()
    assert report.duplicates == {Side.LEGACY: 1, Side.SHADOW: 1}
    assert report.counts[Outcome.MATCH] == 1


def test_pending_replies_are_left_out_of_the_rate() -> None:
    c = comparator(window=10.0)
    c.observe(reply(Side.LEGACY, "a", 0.0))
    c.observe(reply(Side.SHADOW, "a", 0.0))
    c.observe(reply(Side.LEGACY, "b", 1.0))
    report = c.report()
    assert report.pending == 1
    assert report.match_rate == 1.0


def test_latency_difference_is_shadow_minus_legacy_reply_time() -> None:
    c = comparator()
    for i, delta in enumerate([0.010, 0.020, 0.030, -0.005]):
        c.observe(reply(Side.LEGACY, str(i), 0.0, replied_at=100.0))
        c.observe(reply(Side.SHADOW, str(i), 0.0, replied_at=100.0 + delta))
    latency = c.report().latency
    assert latency is not None
    assert latency.samples == 4
    assert latency.max == pytest.approx(0.030)
    assert latency.p50 == pytest.approx(0.010)
    assert latency.mean == pytest.approx(0.01375)


def test_gate_fails_without_evidence_and_below_threshold() -> None:
    c = comparator()
    assert c.report().match_rate is None
    assert not c.report().passes(0.0)
    for i in range(999):
        c.observe(reply(Side.LEGACY, str(i), 0.0))
        c.observe(reply(Side.SHADOW, str(i), 0.0))
    c.observe(reply(Side.LEGACY, "x", 0.0, {"n": 1}))
    c.observe(reply(Side.SHADOW, "x", 0.0, {"n": 2}))
    report = c.report()
    assert report.match_rate == pytest.approx(0.999)
    assert report.passes(0.999)
    assert not report.passes(0.9995)


def test_samples_are_bounded_but_counts_are_not() -> None:
    c = comparator(sample_limit=2)
    for i in range(5):
        c.observe(reply(Side.LEGACY, str(i), 0.0, {"n": 1}))
        c.observe(reply(Side.SHADOW, str(i), 0.0, {"n": 2}))
    report = c.report()
    assert report.counts[Outcome.MISMATCH] == 5
    assert len(report.mismatches) == 2


def test_the_listener_hears_every_judgement_once() -> None:
    heard: list[tuple[Outcome, float | None]] = []
    c = comparator(window=1.0, listener=lambda outcome, delta: heard.append((outcome, delta)))
    c.observe(reply(Side.LEGACY, "a", 0.0, replied_at=1.0))
    c.observe(reply(Side.SHADOW, "a", 0.0, replied_at=1.5))
    c.observe(reply(Side.LEGACY, "b", 0.0))
    c.expire(5.0)
    assert heard == [(Outcome.MATCH, 0.5), (Outcome.MISSING_IN_SHADOW, None)]


def test_report_json_carries_everything_a_gate_or_a_person_reads() -> None:
    c = comparator()
    c.observe(reply(Side.LEGACY, "a", 0.0, {"n": 1}))
    c.observe(reply(Side.SHADOW, "a", 0.0, {"n": 2}))
    c.observe_undecodable(Side.SHADOW)
    data = c.report().as_json()
    assert data["match_rate"] == 0.0
    assert data["counts"]["mismatch"] == 1
    assert data["undecodable"] == {"legacy": 0, "shadow": 1}
    assert data["mismatches"][0]["differences"] == [{"path": "payload.n", "kind": "changed", "legacy": 1, "shadow": 2}]
    assert "payload.generated_at" in data["ignored_fields"]


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window"):
        comparator(window=0)


def test_latency_summary_of_nothing_is_none() -> None:
    assert LatencySummary.of([]) is None


def test_an_unpaired_reply_from_the_first_window_is_an_edge_of_the_read_not_missing() -> None:
    c = comparator(window=1.0, edge_until=1_000.0)
    c.observe(reply(Side.LEGACY, "partner-before-start", 0.0, replied_at=999.5))
    c.observe(reply(Side.LEGACY, "really-missing", 0.0, replied_at=1_000.5))
    c.expire(5.0)
    report = c.report()
    assert report.unpaired_at_start == 1
    assert report.counts[Outcome.MISSING_IN_SHADOW] == 1
    assert report.missing[Outcome.MISSING_IN_SHADOW] == ("really-missing",)
    # its partner showing up later is late, not a new pending reply
    c.observe(reply(Side.SHADOW, "partner-before-start", 6.0))
    assert c.pending == 0


def test_expire_stamped_before_judges_by_reply_time_not_arrival() -> None:
    c = comparator(window=100.0)
    c.observe(reply(Side.SHADOW, "old", 0.0, replied_at=10.0))
    c.observe(reply(Side.LEGACY, "new", 0.0, replied_at=50.0))
    assert c.expire_stamped_before(20.0, now=500.0) == 1
    report = c.report()
    assert report.counts[Outcome.MISSING_IN_LEGACY] == 1
    assert report.pending == 1
    # what is left waits a fresh window from ``now``, not from when it was read
    assert c.expire(500.0 + 99.0) == 0
    assert c.expire(500.0 + 100.0) == 1
