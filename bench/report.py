"""Rendering of bench results: targets, a Markdown table, a PNG chart."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Statistic = Literal["median", "min", "max"]


@dataclass(frozen=True)
class Target:
    """A goal for one key: ``value <op> bound``, where bound may refer to another key of the same run.

    ``statistic`` says which of the key's repetitions is checked: the median
    (the reported figure) by default; ``max`` for a count that must stay at 0
    in every repetition (missing replies), ``min`` for a floor every
    repetition must reach (samples).
    """

    key: str
    description: str
    check: str  # ">=" or "<="
    bound: float
    relative_to: str | None = None
    plus: float = 0.0
    statistic: Statistic = "median"

    def limit(self, results: dict[str, Any]) -> float | None:
        if self.relative_to is None:
            return self.bound
        base = results.get(self.relative_to)
        return None if base is None else base * self.bound + self.plus

    def value(self, results: dict[str, Any]) -> float | None:
        """The figure this target checks: the key's median, or its min/max over the repetitions."""
        if self.key not in results:
            return None
        if self.statistic == "median":
            return float(results[self.key])
        spread = results.get("spread", {}).get(self.key)
        return float(results[self.key]) if spread is None else float(spread[self.statistic])

    def met(self, value: float, results: dict[str, Any]) -> bool | None:
        limit = self.limit(results)
        if limit is None or math.isnan(value) or math.isnan(limit):
            return None
        return value >= limit if self.check == ">=" else value <= limit


RAW_BOUNDED = "kafka_echo_raw_aiokafka_in_flight_64_per_s"

TARGETS: tuple[Target, ...] = (
    Target("inprocess_echo_per_s", ">= 50,000 envelopes/s on one core", ">=", 50_000),
    Target("inprocess_echo_p99_us", "p99 <= 100 us", "<=", 100),
    Target("inprocess_echo_traced_1pct_per_s", "tracing at 1%: >= 0.9x untraced", ">=", 0.9, "inprocess_echo_per_s"),
    Target("inprocess_echo_traced_all_per_s", "tracing every envelope: reported", ">=", 0.0),
    Target("kafka_echo_onex_per_s", ">= 0.8x raw aiokafka at equal in-flight bound (64)", ">=", 0.8, RAW_BOUNDED),
    Target("kafka_echo_onex_per_s", ">= 0.7x raw aiokafka unbounded", ">=", 0.7, "kafka_echo_raw_aiokafka_per_s"),
    Target("kafka_echo_onex_per_s", ">= 1.0x FastStream (batch, its best)", ">=", 1.0, "kafka_echo_faststream_per_s"),
    Target(
        "kafka_echo_onex_exactly_once_per_s", "exactly-once >= 0.5x at-least-once", ">=", 0.5, "kafka_echo_onex_per_s"
    ),
    Target("kafka_echo_raw_aiokafka_per_s", "baseline: raw aiokafka loop, unbounded", ">=", 0.0),
    Target(RAW_BOUNDED, "baseline: raw aiokafka loop, <= 64 in flight", ">=", 0.0),
    Target("kafka_echo_faststream_per_s", "baseline: FastStream batch subscriber", ">=", 0.0),
    Target("kafka_echo_faststream_per_message_per_s", "baseline: FastStream per message (reported)", ">=", 0.0),
    Target("kafka_rtt_p99_ms_at_1000_per_s", "p99 <= 20 ms at 1,000/s", "<=", 20),
    Target(
        "kafka_rtt_p99_ms_at_1000_per_s",
        "p99 <= raw loop's p99 (same run)",
        "<=",
        1.0,
        "kafka_rtt_raw_aiokafka_p99_ms_at_1000_per_s",
    ),
    Target("kafka_rtt_missing_replies", "0 missing replies (every repetition)", "<=", 0, statistic="max"),
    Target("kafka_rtt_samples", ">= 10,000 samples (every repetition)", ">=", 10_000, statistic="min"),
    Target(
        "kafka_rtt_onex_exactly_once_p99_ms_at_1000_per_s",
        "exactly-once p99 <= 2x at-least-once",
        "<=",
        2.0,
        "kafka_rtt_p99_ms_at_1000_per_s",
    ),
    Target(
        "kafka_rtt_onex_exactly_once_missing_replies", "0 missing replies (every repetition)", "<=", 0, statistic="max"
    ),
    Target("kafka_rtt_raw_aiokafka_p99_ms_at_1000_per_s", "baseline: raw loop p99 at 1,000/s", ">=", 0.0),
    Target("db_query_onex_p99_ms", "<= 1.25x raw asyncpg + 0.2 ms", "<=", 1.25, "db_query_raw_p99_ms", 0.2),
    Target("db_query_raw_p99_ms", "baseline: raw asyncpg", ">=", 0.0),
    Target("http_get_onex_p99_ms", "<= 1.25x raw httpx + 0.2 ms", "<=", 1.25, "http_get_raw_p99_ms", 0.2),
    Target("http_get_raw_p99_ms", "baseline: raw httpx", ">=", 0.0),
    Target("vault_get_onex_p99_ms", "<= 1.25x raw hvac + 0.2 ms", "<=", 1.25, "vault_get_raw_p99_ms", 0.2),
    Target("vault_get_raw_p99_ms", "baseline: raw hvac", ">=", 0.0),
    Target("rss_mb_10_nodes", "<= 60 MB", "<=", 60),
    Target("rss_mb_1000_nodes", "<= 150 MB", "<=", 150),
    Target("startup_s", "<= 2 s to ready", "<=", 2),
)


def required_keys() -> list[str]:
    """Every key a full run must write: each target's own and the baselines it is measured against."""
    keys: dict[str, None] = {}
    for target in TARGETS:
        keys[target.key] = None
        if target.relative_to is not None:
            keys[target.relative_to] = None
    return list(keys)


RATIOS: tuple[tuple[str, str, str], ...] = (
    ("in-process: traced at 1.0 / untraced", "inprocess_echo_traced_all_per_s", "inprocess_echo_per_s"),
    ("in-process: traced at 0.01 / untraced", "inprocess_echo_traced_1pct_per_s", "inprocess_echo_per_s"),
    ("kafka echo: onex / raw aiokafka at <= 64 in flight", "kafka_echo_onex_per_s", RAW_BOUNDED),
    ("kafka echo: onex / raw aiokafka unbounded", "kafka_echo_onex_per_s", "kafka_echo_raw_aiokafka_per_s"),
    ("kafka echo: onex / FastStream batch", "kafka_echo_onex_per_s", "kafka_echo_faststream_per_s"),
    (
        "kafka echo: onex / FastStream per message",
        "kafka_echo_onex_per_s",
        "kafka_echo_faststream_per_message_per_s",
    ),
    ("kafka echo: exactly-once / at-least-once", "kafka_echo_onex_exactly_once_per_s", "kafka_echo_onex_per_s"),
    ("kafka echo: traced at 1.0 / untraced", "kafka_echo_onex_traced_all_per_s", "kafka_echo_onex_per_s"),
    ("kafka echo: traced at 0.01 / untraced", "kafka_echo_onex_traced_1pct_per_s", "kafka_echo_onex_per_s"),
    (
        "kafka p99 at 1,000/s: onex / raw loop",
        "kafka_rtt_p99_ms_at_1000_per_s",
        "kafka_rtt_raw_aiokafka_p99_ms_at_1000_per_s",
    ),
    (
        "kafka p99 at 1,000/s: exactly-once / at-least-once",
        "kafka_rtt_onex_exactly_once_p99_ms_at_1000_per_s",
        "kafka_rtt_p99_ms_at_1000_per_s",
    ),
    ("db p99: onex / raw asyncpg", "db_query_onex_p99_ms", "db_query_raw_p99_ms"),
    ("http p99: onex / raw httpx", "http_get_onex_p99_ms", "http_get_raw_p99_ms"),
    ("vault p99: onex / raw hvac", "vault_get_onex_p99_ms", "vault_get_raw_p99_ms"),
)


def paired_range(results: dict[str, Any], numerator: str, denominator: str) -> tuple[float, float] | None:
    """Min and max of the per-repetition ratios (both sides of a repetition ran back to back)."""
    spread = results.get("spread", {})
    tops = spread.get(numerator, {}).get("samples")
    bottoms = spread.get(denominator, {}).get("samples")
    if not tops or not bottoms or len(tops) != len(bottoms):
        return None
    pairs = [t / b for t, b in zip(tops, bottoms, strict=True) if b and not (math.isnan(t) or math.isnan(b))]
    return (min(pairs), max(pairs)) if pairs else None


def _ratio_rows(results: dict[str, Any]) -> list[tuple[str, float, tuple[float, float] | None]]:
    rows = []
    for label, numerator, denominator in RATIOS:
        if results.get(numerator) and results.get(denominator):
            ratio = results[numerator] / results[denominator]
            rows.append((label, ratio, paired_range(results, numerator, denominator)))
    return rows


def _fmt(value: float) -> str:
    """Four significant digits, thousands separated rather than in exponent notation."""
    if math.isfinite(value) and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _spread_cell(results: dict[str, Any], key: str) -> str:
    spread = results.get("spread", {}).get(key)
    if spread is None:
        return "-"
    return f"{_fmt(spread['min'])} - {_fmt(spread['max'])} ({spread['runs']})"


def render_markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Machine: `{results.get('machine', {})}`",
        "",
        f"Settings: `{results.get('settings', {})}`",
        "",
        "Each value is the median of the repetitions; min - max (runs) beside it.",
        "",
        "| key | median | min - max (runs) | target | checked | met |",
        "| --- | ---: | ---: | --- | ---: | :---: |",
    ]
    for target in TARGETS:
        value = target.value(results)
        if value is None:
            lines.append(f"| {target.key} | not measured | - | {target.description} | - | - |")
            continue
        met = target.met(value, results)
        mark = {True: "yes", False: "**no**", None: "-"}[met]
        checked = _fmt(value) if target.statistic == "median" else f"{target.statistic} {_fmt(value)}"
        base = results.get(target.relative_to) if target.relative_to else None
        if base and target.plus == 0 and target.bound not in (0.0,):
            checked += f" ({value / base:.2f}x)"
        lines.append(
            f"| {target.key} | {_fmt(results[target.key])} | {_spread_cell(results, target.key)} | "
            f"{target.description} | {checked} | {mark} |"
        )
    ratios = _ratio_rows(results)
    if ratios:
        lines += [
            "",
            "| ratio of medians (same run) | value | per-repetition min - max |",
            "| --- | ---: | ---: |",
        ]
        for label, value, paired in ratios:
            shown = "-" if paired is None else f"{paired[0]:.3f} - {paired[1]:.3f}"
            lines.append(f"| {label} | {value:.3f} | {shown} |")
    others = sorted(
        key
        for key, value in results.items()
        if isinstance(value, int | float) and key not in {t.key for t in TARGETS} and key != "suite_seconds"
    )
    if others:
        lines += ["", "Every other key:", "", "| key | median | min - max (runs) |", "| --- | ---: | ---: |"]
        lines += [f"| {key} | {_fmt(results[key])} | {_spread_cell(results, key)} |" for key in others]
    if results.get("errors"):
        lines += ["", "Workloads that failed:", ""]
        lines += [f"- `{name}`: {error}" for name, error in results["errors"].items()]
    return "\n".join(lines) + "\n"


def render_chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    throughput = [
        ("onex", "kafka_echo_onex_per_s"),
        ("onex\nexactly once", "kafka_echo_onex_exactly_once_per_s"),
        ("raw aiokafka\n<= 64", RAW_BOUNDED),
        ("raw aiokafka\nunbounded", "kafka_echo_raw_aiokafka_per_s"),
        ("FastStream\nbatch", "kafka_echo_faststream_per_s"),
        ("FastStream\nper message", "kafka_echo_faststream_per_message_per_s"),
    ]
    shown = [(n, k) for n, k in throughput if k in results]
    spread = results.get("spread", {})
    medians = [results[k] for _, k in shown]
    errors = [
        [m - spread.get(k, {}).get("min", m) for m, (_, k) in zip(medians, shown, strict=True)],
        [spread.get(k, {}).get("max", m) - m for m, (_, k) in zip(medians, shown, strict=True)],
    ]
    colours = ["#2b6cb0", "#63b3ed", "#718096", "#a0aec0", "#dd6b20", "#f6ad55"]
    left.bar(
        [n for n, _ in shown],
        medians,
        yerr=errors,
        capsize=3,
        color=[colours[i] for i, (n, k) in enumerate(throughput) if k in results],
    )
    left.tick_params(axis="x", labelsize=7)
    left.set_title("Kafka echo throughput, median and min-max (commands/s)")
    pairs = [
        ("db", "db_query_onex_p99_ms", "db_query_raw_p99_ms"),
        ("http", "http_get_onex_p99_ms", "http_get_raw_p99_ms"),
        ("vault", "vault_get_onex_p99_ms", "vault_get_raw_p99_ms"),
    ]
    present = [(n, results[a], results[b]) for n, a, b in pairs if a in results and b in results]
    xs = range(len(present))
    right.bar([x - 0.2 for x in xs], [p[1] for p in present], width=0.4, label="onex handler", color="#2b6cb0")
    right.bar([x + 0.2 for x in xs], [p[2] for p in present], width=0.4, label="raw client", color="#718096")
    right.set_xticks(list(xs), [p[0] for p in present])
    right.set_title("Handler p99 latency (ms, lower is better)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
