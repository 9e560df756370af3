"""Prometheus export of a long-lived (``--follow``) comparison, for a promotion gate.

A gate should judge a recent window, not the whole run, so besides the
cumulative ``onex_shadow_match_rate`` gauge the per-outcome counter lets a
query compute the rate over any range::

    sum(rate(onex_shadow_replies_total{outcome="match"}[10m]))
      / sum(rate(onex_shadow_replies_total{outcome=~"match|mismatch|missing_in_shadow"}[10m]))
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from onex_host.infra.kafka_tools.shadow.comparator import ComparisonReport, Outcome, ReplyComparator
from onex_host.infra.kafka_tools.shadow.observed import Side

_DELTA_BUCKETS = (-1.0, -0.25, -0.1, -0.05, -0.01, 0.0, 0.01, 0.05, 0.1, 0.25, 1.0, 5.0)


class ShadowMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.replies = Counter(
            "onex_shadow_replies",
            "Judged replies by outcome: match, mismatch, shadow_skipped, missing_in_shadow, missing_in_legacy.",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in Outcome:
            self.replies.labels(outcome.value)
        self.match_rate = Gauge(
            "onex_shadow_match_rate",
            "Matches over compared replies (match, mismatch, missing_in_shadow) since the comparator started; "
            "NaN until something was compared.",
            registry=self.registry,
        )
        self.match_rate.set(float("nan"))
        self.pending = Gauge(
            "onex_shadow_pending_replies",
            "Replies waiting for their partner within the window.",
            registry=self.registry,
        )
        self.anomalies = Gauge(
            "onex_shadow_anomalies",
            "Replies seen twice (duplicate), after their window (late) or unreadable (undecodable), by side.",
            ["kind", "side"],
            registry=self.registry,
        )
        self.latency_difference = Histogram(
            "onex_shadow_latency_difference_seconds",
            "Shadow reply time minus legacy reply time for each compared pair (positive: shadow slower).",
            buckets=_DELTA_BUCKETS,
            registry=self.registry,
        )

    def record_outcome(self, outcome: Outcome, latency_difference: float | None) -> None:
        """A ``ReplyComparator`` listener: called once per judged pair."""
        self.replies.labels(outcome.value).inc()
        if latency_difference is not None:
            self.latency_difference.observe(latency_difference)

    def update(self, report: ComparisonReport) -> None:
        rate = report.match_rate
        self.match_rate.set(float("nan") if rate is None else rate)
        self.pending.set(report.pending)
        for kind, counts in (
            ("duplicate", report.duplicates),
            ("late", report.late),
            ("undecodable", report.undecodable),
        ):
            for side in Side:
                self.anomalies.labels(kind, side.value).set(counts[side])

    def updater(self, every_seconds: float) -> Callable[[ReplyComparator], None]:
        """A ``run_comparison`` tick that refreshes the gauges at most every ``every_seconds``
        (a report sorts the latency samples; once per poll would be wasted work)."""
        last = float("-inf")

        def tick(comparator: ReplyComparator) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= every_seconds:
                last = now
                self.update(comparator.report())

        return tick

    def serve(self, port: int, bind: str) -> MetricsServer:
        server, thread = start_http_server(port, bind, registry=self.registry)
        return MetricsServer(server, thread)


class MetricsServer:
    """The scrape endpoint, running in a daemon thread until ``close``."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return self._server.server_port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
