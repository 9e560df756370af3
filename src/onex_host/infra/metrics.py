"""Prometheus metrics of one host process.

Each ``HostMetrics`` has its own ``CollectorRegistry`` so several hosts (or
tests) in one interpreter never share counters.

The three series every envelope touches (``onex_envelopes``,
``onex_envelope_duration_seconds``, ``onex_inflight_envelopes``) are plain
numbers behind one custom collector (``_EnvelopeSeries``), not
prometheus-client metrics: those take a lock per ``inc``/``observe``, about
7 us per envelope on the host's path. Everything is updated from the event
loop; a scrape reads snapshots. The exposition is byte for byte what the
client's ``Counter``/``Histogram``/``Gauge`` would render (tested).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from prometheus_client.utils import INF, floatToGoString

# ``*_created`` series double the scrape size and no dashboard here reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

__all__ = ["CONTENT_TYPE_LATEST", "HostMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


UNKNOWN_LABEL = "(unknown)"


class InflightGauge:
    """``onex_inflight_envelopes`` of this host: a plain number, changed only from the event loop."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self) -> None:
        self.value += 1

    def dec(self) -> None:
        self.value -= 1


class _Latency:
    """One histogram child: per-bucket counts (not cumulative, as the client stores them) and the sum."""

    __slots__ = ("counts", "sum")

    def __init__(self, buckets: int) -> None:
        self.counts = [0.0] * buckets
        self.sum = 0.0


class _EnvelopeSeries(Collector):
    """The per-envelope series as plain numbers; see the module docstring."""

    def __init__(self, mode: str) -> None:
        self._mode = mode
        self._bounds = [*(float(b) for b in _LATENCY_BUCKETS), INF]
        self._le = [floatToGoString(b) for b in self._bounds]  # type: ignore[no-untyped-call]
        self.counts: dict[tuple[str, str, str], float] = {}
        self.latencies: dict[tuple[str, str], _Latency] = {}
        self.inflight = InflightGauge()

    def record(self, node: str, operation: str, outcome: str, seconds: float) -> None:
        key = (node, operation, outcome)
        self.counts[key] = self.counts.get(key, 0.0) + 1
        latency = self.latencies.get((node, operation))
        if latency is None:
            latency = self.latencies[(node, operation)] = _Latency(len(self._bounds))
        latency.sum += seconds
        latency.counts[bisect.bisect_left(self._bounds, seconds)] += 1

    def _families(self) -> tuple[CounterMetricFamily, HistogramMetricFamily, GaugeMetricFamily]:
        return (
            CounterMetricFamily(
                "onex_envelopes",
                "Envelopes routed, by node, operation and outcome (ok or the reply's error code).",
                labels=["node", "operation", "outcome", "mode"],
            ),
            HistogramMetricFamily(
                "onex_envelope_duration_seconds",
                "Time from routing an envelope to having its reply.",
                labels=["node", "operation", "mode"],
            ),
            GaugeMetricFamily("onex_inflight_envelopes", "Envelopes being executed right now.", labels=["mode"]),
        )

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        envelopes, latency, inflight = self._families()
        for (node, operation, outcome), count in list(self.counts.items()):
            envelopes.add_metric([node, operation, outcome, self._mode], count)
        for (node, operation), child in list(self.latencies.items()):
            cumulative, buckets = 0.0, []
            for le, count in zip(self._le, list(child.counts), strict=True):
                cumulative += count
                buckets.append((le, cumulative))
            latency.add_metric([node, operation, self._mode], buckets, child.sum)
        inflight.add_metric([self._mode], self.inflight.value)
        return (envelopes, latency, inflight)


class HostMetrics:
    def __init__(self, mode: str = "primary") -> None:
        self.mode = mode
        self._declared: Mapping[str, frozenset[str]] = {}
        self._broadcast: frozenset[str] = frozenset()
        self.registry = CollectorRegistry(auto_describe=True)
        self._envelopes = _EnvelopeSeries(mode)
        self.registry.register(self._envelopes)
        self.inflight = self._envelopes.inflight
        """``onex_inflight_envelopes``: ``inc``/``dec`` around each execution."""
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
        """Count one routed envelope and its latency (no lock: called from the event loop only)."""
        self._envelopes.record(node, operation, outcome, seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
