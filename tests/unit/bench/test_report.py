"""Targets and rendering: a missed target must show as missed, a relative one against its own run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.report import TARGETS, Target, render_chart, render_markdown


def row(markdown: str, key: str) -> str:
    (line,) = [line for line in markdown.splitlines() if line.startswith(f"| {key} |")]
    return line


def test_absolute_target_checks_the_bound() -> None:
    target = Target("p99 <= 100 us", "<=", 100)
    assert target.met(99.0, {}) is True
    assert target.met(101.0, {}) is False
    assert target.met(math.nan, {}) is None


def test_relative_target_uses_the_baseline_of_the_same_run() -> None:
    target = Target("<= 1.25x raw + 0.2 ms", "<=", 1.25, "raw_p99", 0.2)
    assert target.limit({"raw_p99": 2.0}) == 2.7
    assert target.met(2.7, {"raw_p99": 2.0}) is True
    assert target.met(2.8, {"raw_p99": 2.0}) is False
    assert target.met(1.0, {}) is None, "no baseline measured: cannot say"


def test_markdown_marks_met_missed_and_unmeasured_targets() -> None:
    results: dict[str, Any] = {
        "machine": {"cpu_count": 2},
        "inprocess_echo_per_s": 60_000.0,
        "inprocess_echo_p99_us": 150.0,
        "kafka_echo_onex_per_s": 700.0,
        "kafka_echo_raw_aiokafka_per_s": 1000.0,
        "errors": {},
    }
    markdown = render_markdown(results)
    assert row(markdown, "inprocess_echo_per_s").endswith("| yes |")
    assert row(markdown, "inprocess_echo_p99_us").endswith("| **no** |")
    assert row(markdown, "kafka_echo_onex_per_s").endswith("| **no** |"), "700 < 0.8 x 1000"
    assert "not measured" in row(markdown, "startup_s")
    assert "| kafka echo: onex / raw aiokafka | 0.700 |" in markdown


def test_markdown_lists_failed_workloads() -> None:
    markdown = render_markdown({"errors": {"kafka_echo": "RuntimeError: broker down"}})
    assert "- `kafka_echo`: RuntimeError: broker down" in markdown


def test_every_issue_key_has_a_target() -> None:
    required = {
        "inprocess_echo_per_s",
        "inprocess_echo_p99_us",
        "kafka_echo_onex_per_s",
        "kafka_echo_raw_aiokafka_per_s",
        "kafka_echo_faststream_per_s",
        "kafka_rtt_p99_ms_at_1000_per_s",
        "db_query_onex_p99_ms",
        "db_query_raw_p99_ms",
        "http_get_onex_p99_ms",
        "http_get_raw_p99_ms",
        "vault_get_onex_p99_ms",
        "vault_get_raw_p99_ms",
        "rss_mb_10_nodes",
        "rss_mb_1000_nodes",
        "startup_s",
    }
    assert required <= set(TARGETS)


def test_chart_is_a_png_even_with_partial_results(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    render_chart({"kafka_echo_onex_per_s": 100.0, "db_query_onex_p99_ms": 1.0, "db_query_raw_p99_ms": 0.8}, path)
    assert path.read_bytes().startswith(b"\x89PNG")
