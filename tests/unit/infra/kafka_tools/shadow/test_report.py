from __future__ import annotations

import json

from onex_host.infra.kafka_tools.shadow.comparator import ReplyComparator
from onex_host.infra.kafka_tools.shadow.ignore import IgnoreRules
from onex_host.infra.kafka_tools.shadow.observed import ObservedReply, Side
from onex_host.infra.kafka_tools.shadow.report import ReportContext, render_json, render_table

CONTEXT = ReportContext("replies", "replies.shadow", 0.999)


def _comparator_with_one_mismatch() -> ReplyComparator:
    c = ReplyComparator(IgnoreRules.from_patterns([]), 1.0)
    for cid, legacy, shadow in [("same", 1, 1), ("changed", 1, 2)]:
        for side, n in ((Side.LEGACY, legacy), (Side.SHADOW, shadow)):
            doc = {"correlation_id": cid, "operation": "echo", "payload": {"n": n, "long": "x" * 100}}
            c.observe(ObservedReply(side, cid, doc, arrived_at=0.0, replied_at=0.0))
    c.observe(ObservedReply(Side.LEGACY, "lost", {"correlation_id": "lost"}, arrived_at=0.0, replied_at=0.0))
    c.expire(5.0)
    return c


def test_json_names_the_topics_and_the_gate_verdict() -> None:
    document = json.loads(render_json(_comparator_with_one_mismatch().report(), CONTEXT))
    assert document["legacy_topic"] == "replies"
    assert document["shadow_topic"] == "replies.shadow"
    assert document["match_rate"] == 1 / 3
    assert document["gate"] == {"min_match": 0.999, "passed": False}
    assert document["missing"]["missing_in_shadow"] == ["lost"]


def test_json_without_a_gate_has_no_verdict() -> None:
    document = json.loads(render_json(_comparator_with_one_mismatch().report(), ReportContext("a", "b", None)))
    assert "gate" not in document


def test_table_shows_rate_verdict_and_each_field_difference() -> None:
    table = render_table(_comparator_with_one_mismatch().report(), CONTEXT)
    assert "33.333% of 3 compared  (gate 99.900%: FAIL)" in table
    assert "missing in shadow      1" in table
    [diff_line] = [line for line in table.splitlines() if line.strip().startswith("changed ")]
    assert "payload.n" in diff_line
    assert diff_line.split()[-2:] == ["1", "2"]
    assert "missing in shadow (first 1 of 1):" in table


def test_table_of_an_empty_run_says_nothing_was_compared() -> None:
    report = ReplyComparator(IgnoreRules.from_patterns([]), 1.0).report()
    table = render_table(report, CONTEXT)
    assert "n/a (nothing compared)  (gate 99.900%: FAIL)" in table
    assert "latency shadow-legacy  n/a" in table
