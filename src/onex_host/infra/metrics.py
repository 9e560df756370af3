"""Prometheus metrics of one host process.

Each ``HostMetrics`` has its own ``CollectorRegistry`` so several hosts (or
tests) in one interpreter never share counters.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# ``*_created`` series double the scrape size and no dashboard here reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

__all__ = ["CONTENT_TYPE_LATEST", "HostMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


UNKNOWN_LABEL = "(unknown)"


class HostMetrics:
    def __init__(self, mode: str = "primary") -> None:
        self.mode = mode
        self._declared: Mapping[str, frozenset[str]] = {}
        self._broadcast: frozenset[str] = frozenset()
        self.registry = CollectorRegistry(auto_describe=True)
        self._counters: dict[tuple[str, str, str], Counter] = {}
        self._histograms: dict[tuple[str, str], Histogram] = {}
        self.envelopes = Counter(
            "onex_envelopes",
            "Envelopes routed, by node, operation and outcome (ok or the reply's error code).",
            ["node", "operation", "outcome", "mode"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "onex_envelope_duration_seconds",
            "Time from routing an envelope to having its reply.",
            ["node", "operation", "mode"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.inflight = Gauge(
            "onex_inflight_envelopes", "Envelopes being executed right now.", ["mode"], registry=self.registry
        )
        self.dead_letters = Counter(
            "onex_dead_letters",
            "Messages sent to the dead-letter topic, by reason.",
            ["reason", "mode"],
            registry=self.registry,
        )
        self.retries = Counter(
            "onex_retries",
            "Handler retries after a retryable error, by node and operation.",
            ["node", "operation", "mode"],
            registry=self.registry,
        )
        self.ready = Gauge(
            "onex_ready",
            "1 while the host is ready (what /health/ready answers; handlers as last probed), else 0.",
            ["mode"],
            registry=self.registry,
        )
        self.standby = Gauge(
            "onex_standby",
            "1 while the host is a standby (started with --standby, not yet promoted): ready, consuming nothing.",
            ["mode"],
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "onex_consumer_lag",
            "Messages behind the partition's high watermark.",
            ["topic", "partition", "mode"],
            registry=self.registry,
        )

    def declare(self, operations: Mapping[str, frozenset[str]]) -> None:
        """The node slugs and operations the contracts declare: the only label values ever used."""
        self._declared = dict(operations)
        self._broadcast = frozenset().union(*operations.values()) if operations else frozenset()

    def labels_for(self, target: str | None, operation: str) -> tuple[str, str]:
        """Label values from the contracts only, never from the command topic.

        Whatever an envelope says (an unknown node, an undeclared operation, a
        made-up name on an expired or ``is_response`` envelope) is counted under
        ``(unknown)``, so the series count is bounded by the contracts, for every
        metric that carries node and operation (envelopes, latency, retries).
        """
        if target is None:
            return "*", operation if operation in self._broadcast else UNKNOWN_LABEL
        operations = self._declared.get(target)
        if operations is None:
            return UNKNOWN_LABEL, UNKNOWN_LABEL
        return target, operation if operation in operations else UNKNOWN_LABEL

    def record(self, node: str, operation: str, outcome: str, seconds: float) -> None:
        """Count one routed envelope and its latency.

        Labelled children are cached: ``labels()`` hashes and locks on every
        call, which is measurable on the per-envelope path.
        """
        key = (node, operation, outcome)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.envelopes.labels(node, operation, outcome, self.mode)
        counter.inc()
        histogram = self._histograms.get(key[:2])
        if histogram is None:
            histogram = self._histograms[key[:2]] = self.latency.labels(node, operation, self.mode)
        histogram.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
