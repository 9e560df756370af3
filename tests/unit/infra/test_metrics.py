"""``HostMetrics``: the per-envelope series are plain numbers, exposed exactly as prometheus-client would."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from onex_host.infra.metrics import _LATENCY_BUCKETS, HostMetrics

PER_ENVELOPE = ("onex_envelopes", "onex_envelope_duration_seconds", "onex_inflight_envelopes")


class ClientMetrics:
    """The same three series through prometheus-client's own metrics: what the exposition must equal."""

    def __init__(self, mode: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.mode = mode
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
        inflight = Gauge(
            "onex_inflight_envelopes", "Envelopes being executed right now.", ["mode"], registry=self.registry
        )
        self.inflight = inflight.labels(mode)  # as the process does at start

    def record(self, node: str, operation: str, outcome: str, seconds: float) -> None:
        self.envelopes.labels(node, operation, outcome, self.mode).inc()
        self.latency.labels(node, operation, self.mode).observe(seconds)


def blocks(exposition: bytes, names: tuple[str, ...]) -> str:
    """The exposition's text for the metric families ``names``, in exposition order."""
    kept: list[str] = []
    keep = False
    for line in exposition.decode().splitlines():
        if line.startswith("# HELP "):
            family = line.split()[2]
            keep = any(family in (name, f"{name}_total") for name in names)
        if keep:
            kept.append(line)
    return "\n".join(kept)


seconds = st.one_of(
    st.sampled_from([float(b) for b in _LATENCY_BUCKETS]),
    st.floats(-1, 1e6, allow_nan=False),
    st.floats(0, 0.01),
)
steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("record"),
            st.sampled_from(["echo", "db", "(unknown)", "*"]),
            st.sampled_from(["echo", "query", "(unknown)"]),
            st.sampled_from(["ok", "timeout", "internal_error"]),
            seconds,
        ),
        st.tuples(st.sampled_from(["inc", "dec"])),
    ),
    max_size=60,
)


@settings(deadline=None)  # a shared 2-core machine: per-example deadlines only flake
@given(steps, st.sampled_from(["primary", "shadow"]))
def test_the_exposition_is_byte_identical_to_prometheus_clients_own_metrics(
    operations: list[tuple[object, ...]], mode: str
) -> None:
    ours, theirs = HostMetrics(mode=mode), ClientMetrics(mode)
    for operation in operations:
        if operation[0] == "record":
            _, node, op, outcome, duration = operation
            for metrics in (ours, theirs):
                metrics.record(str(node), str(op), str(outcome), float(duration))  # type: ignore[arg-type]
        else:
            getattr(ours.inflight, str(operation[0]))()
            getattr(theirs.inflight, str(operation[0]))()
    assert blocks(ours.render(), PER_ENVELOPE) == blocks(generate_latest(theirs.registry), PER_ENVELOPE)


def test_every_metric_family_keeps_its_name_labels_and_order() -> None:
    metrics = HostMetrics(mode="primary")
    metrics.declare({"echo": frozenset({"echo"})})
    metrics.record("echo", "echo", "ok", 0.001)
    metrics.retries.labels(node="echo", operation="echo", mode="primary").inc()
    metrics.dead_letters.labels(reason="not_json", mode="primary").inc()
    metrics.consumer_lag.labels(topic="t", partition="0", mode="primary").set(3)
    lines = metrics.render().decode().splitlines()
    assert [line.split()[2] for line in lines if line.startswith("# TYPE")] == [
        "onex_envelopes_total",
        "onex_envelope_duration_seconds",
        "onex_inflight_envelopes",
        "onex_dead_letters_total",
        "onex_retries_total",
        "onex_ready",
        "onex_standby",
        "onex_consumer_lag",
    ]
    assert 'onex_envelopes_total{mode="primary",node="echo",operation="echo",outcome="ok"} 1.0' in lines
    assert 'onex_envelope_duration_seconds_bucket{le="0.001",mode="primary",node="echo",operation="echo"} 1.0' in lines
    assert 'onex_envelope_duration_seconds_count{mode="primary",node="echo",operation="echo"} 1.0' in lines
    assert 'onex_inflight_envelopes{mode="primary"} 0.0' in lines
