"""Rendering of bench results: targets, a Markdown table, a PNG chart."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Target:
    """A goal for one key: ``value <op> bound``, where bound may refer to another key of the same run."""

    description: str
    check: str  # ">=" or "<="
    bound: float
    relative_to: str | None = None
    plus: float = 0.0

    def limit(self, results: dict[str, Any]) -> float | None:
        if self.relative_to is None:
            return self.bound
        base = results.get(self.relative_to)
        return None if base is None else base * self.bound + self.plus

    def met(self, value: float, results: dict[str, Any]) -> bool | None:
        limit = self.limit(results)
        if limit is None or math.isnan(value):
            return None
        return value >= limit if self.check == ">=" else value <= limit


TARGETS: dict[str, Target] = {
    "inprocess_echo_per_s": Target(">= 50,000 envelopes/s on one core", ">=", 50_000),
    "inprocess_echo_p99_us": Target("p99 <= 100 us", "<=", 100),
    "inprocess_echo_traced_1pct_per_s": Target("tracing at 1%: >= 0.9x untraced", ">=", 0.9, "inprocess_echo_per_s"),
    "inprocess_echo_traced_all_per_s": Target("tracing every envelope: reported", ">=", 0.0),
    "kafka_echo_onex_per_s": Target(">= 0.8x raw aiokafka", ">=", 0.8, "kafka_echo_raw_aiokafka_per_s"),
    "kafka_echo_faststream_per_s": Target(
        "FastStream <= 1.0x onex (onex >= 1.0x FastStream)", "<=", 1.0, "kafka_echo_onex_per_s"
    ),
    "kafka_echo_raw_aiokafka_per_s": Target("baseline: raw aiokafka loop", ">=", 0.0),
    "kafka_rtt_p99_ms_at_1000_per_s": Target("p99 <= 20 ms at 1,000/s", "<=", 20),
    "db_query_onex_p99_ms": Target("<= 1.25x raw asyncpg + 0.2 ms", "<=", 1.25, "db_query_raw_p99_ms", 0.2),
    "db_query_raw_p99_ms": Target("baseline: raw asyncpg", ">=", 0.0),
    "http_get_onex_p99_ms": Target("<= 1.25x raw httpx + 0.2 ms", "<=", 1.25, "http_get_raw_p99_ms", 0.2),
    "http_get_raw_p99_ms": Target("baseline: raw httpx", ">=", 0.0),
    "vault_get_onex_p99_ms": Target("<= 1.25x raw hvac + 0.2 ms", "<=", 1.25, "vault_get_raw_p99_ms", 0.2),
    "vault_get_raw_p99_ms": Target("baseline: raw hvac", ">=", 0.0),
    "rss_mb_10_nodes": Target("<= 60 MB", "<=", 60),
    "rss_mb_1000_nodes": Target("<= 150 MB", "<=", 150),
    "startup_s": Target("<= 2 s to ready", "<=", 2),
}


def _ratio_rows(results: dict[str, Any]) -> list[tuple[str, float]]:
    pairs = [
        ("in-process: traced at 1.0 / untraced", "inprocess_echo_traced_all_per_s", "inprocess_echo_per_s"),
        ("in-process: traced at 0.01 / untraced", "inprocess_echo_traced_1pct_per_s", "inprocess_echo_per_s"),
        ("kafka echo: onex / raw aiokafka", "kafka_echo_onex_per_s", "kafka_echo_raw_aiokafka_per_s"),
        ("kafka echo: traced at 1.0 / untraced", "kafka_echo_onex_traced_all_per_s", "kafka_echo_onex_per_s"),
        ("kafka echo: traced at 0.01 / untraced", "kafka_echo_onex_traced_1pct_per_s", "kafka_echo_onex_per_s"),
        ("kafka echo: onex / FastStream", "kafka_echo_onex_per_s", "kafka_echo_faststream_per_s"),
        ("db p99: onex / raw asyncpg", "db_query_onex_p99_ms", "db_query_raw_p99_ms"),
        ("http p99: onex / raw httpx", "http_get_onex_p99_ms", "http_get_raw_p99_ms"),
        ("vault p99: onex / raw hvac", "vault_get_onex_p99_ms", "vault_get_raw_p99_ms"),
    ]
    rows = []
    for label, numerator, denominator in pairs:
        if results.get(numerator) and results.get(denominator):
            rows.append((label, results[numerator] / results[denominator]))
    return rows


def render_markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Machine: `{results.get('machine', {})}`",
        "",
        "| key | value | target | met |",
        "| --- | ---: | --- | :---: |",
    ]
    for key, target in TARGETS.items():
        value = results.get(key)
        if value is None:
            lines.append(f"| {key} | not measured | {target.description} | - |")
            continue
        met = target.met(float(value), results)
        mark = {True: "yes", False: "**no**", None: "-"}[met]
        lines.append(f"| {key} | {value:.4g} | {target.description} | {mark} |")
    ratios = _ratio_rows(results)
    if ratios:
        lines += ["", "| ratio (same run) | value |", "| --- | ---: |"]
        lines += [f"| {label} | {value:.3f} |" for label, value in ratios]
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
        ("raw aiokafka", "kafka_echo_raw_aiokafka_per_s"),
        ("FastStream", "kafka_echo_faststream_per_s"),
    ]
    names = [n for n, k in throughput if k in results]
    left.bar(
        names,
        [results[k] for n, k in throughput if k in results],
        color=["#2b6cb0", "#718096", "#dd6b20"][: len(names)],
    )
    left.set_title("Kafka echo throughput (commands/s, higher is better)")
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
