from __future__ import annotations

import math

import httpx
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from onex_host.infra.kafka_tools.shadow.comparator import ReplyComparator
from onex_host.infra.kafka_tools.shadow.ignore import IgnoreRules
from onex_host.infra.kafka_tools.shadow.metrics import ShadowMetrics
from onex_host.infra.kafka_tools.shadow.observed import ObservedReply, Side


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _feed(comparator: ReplyComparator, cid: str, legacy: int, shadow: int) -> None:
    comparator.observe(ObservedReply(Side.LEGACY, cid, {"n": legacy}, arrived_at=0.0, replied_at=10.0))
    comparator.observe(ObservedReply(Side.SHADOW, cid, {"n": shadow}, arrived_at=0.0, replied_at=10.02))


def test_outcomes_rate_and_latency_are_exported() -> None:
    metrics = ShadowMetrics()
    comparator = ReplyComparator(IgnoreRules.from_patterns([]), 1.0, listener=metrics.record_outcome)
    assert math.isnan(_samples(generate_latest(metrics.registry).decode())[("onex_shadow_match_rate", ())])
    for i in range(3):
        _feed(comparator, str(i), 1, 1)
    _feed(comparator, "x", 1, 2)
    _feed(comparator, "x", 1, 1)  # a duplicate on both sides
    metrics.update(comparator.report())
    samples = _samples(generate_latest(metrics.registry).decode())
    assert samples[("onex_shadow_match_rate", ())] == 0.75
    assert samples[("onex_shadow_replies_total", (("outcome", "match"),))] == 3
    assert samples[("onex_shadow_replies_total", (("outcome", "mismatch"),))] == 1
    assert samples[("onex_shadow_replies_total", (("outcome", "missing_in_shadow"),))] == 0
    assert samples[("onex_shadow_anomalies", (("kind", "duplicate"), ("side", "shadow")))] == 1
    assert samples[("onex_shadow_latency_difference_seconds_count", ())] == 4
    assert samples[("onex_shadow_latency_difference_seconds_bucket", (("le", "0.01"),))] == 0
    assert samples[("onex_shadow_latency_difference_seconds_bucket", (("le", "0.05"),))] == 4


def test_the_updater_refreshes_at_most_once_per_interval() -> None:
    metrics = ShadowMetrics()
    comparator = ReplyComparator(IgnoreRules.from_patterns([]), 1.0, listener=metrics.record_outcome)
    tick = metrics.updater(every_seconds=3600)
    _feed(comparator, "a", 1, 1)
    tick(comparator)
    _feed(comparator, "b", 1, 2)
    tick(comparator)
    assert _samples(generate_latest(metrics.registry).decode())[("onex_shadow_match_rate", ())] == 1.0


def test_the_scrape_endpoint_serves_the_registry() -> None:
    metrics = ShadowMetrics()
    server = metrics.serve(0, "127.0.0.1")
    try:
        response = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
        assert response.status_code == 200
        assert "onex_shadow_match_rate" in response.text
    finally:
        server.close()
