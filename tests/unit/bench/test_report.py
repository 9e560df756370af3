"""Targets and rendering: a missed target must show as missed, a relative one against its own run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.report import TARGETS, Target, paired_range, render_chart, render_markdown, required_keys


def rows(markdown: str, key: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith(f"| {key} |")]


def row(markdown: str, key: str, description: str | None = None) -> str:
    (line,) = [line for line in rows(markdown, key) if description is None or f"| {description} |" in line]
    return line


def test_absolute_target_checks_the_bound() -> None:
    target = Target("k", "p99 <= 100 us", "<=", 100)
    assert target.met(99.0, {}) is True
    assert target.met(101.0, {}) is False
    assert target.met(math.nan, {}) is None


def test_relative_target_uses_the_baseline_of_the_same_run() -> None:
    target = Target("k", "<= 1.25x raw + 0.2 ms", "<=", 1.25, "raw_p99", 0.2)
    assert target.limit({"raw_p99": 2.0}) == 2.7
    assert target.met(2.7, {"raw_p99": 2.0}) is True
    assert target.met(2.8, {"raw_p99": 2.0}) is False
    assert target.met(1.0, {}) is None, "no baseline measured: cannot say"


def test_a_max_target_fails_when_one_repetition_breaks_it_even_if_the_median_does_not() -> None:
    """Missing replies: a median of 0 must not hide a repetition that lost replies."""
    target = Target("missing", "0 missing", "<=", 0, statistic="max")
    results = {"missing": 0.0, "spread": {"missing": {"min": 0.0, "max": 3.0, "runs": 3}}}
    value = target.value(results)
    assert value == 3.0
    assert target.met(value, results) is False


def test_a_min_target_checks_the_smallest_repetition() -> None:
    target = Target("samples", ">= 10,000", ">=", 10_000, statistic="min")
    results = {"samples": 12_000.0, "spread": {"samples": {"min": 9_000.0, "max": 12_000.0, "runs": 3}}}
    assert target.met(target.value(results) or 0.0, results) is False


def test_markdown_marks_met_missed_and_unmeasured_targets() -> None:
    results: dict[str, Any] = {
        "machine": {"cpu_count": 2},
        "inprocess_echo_per_s": 60_000.0,
        "inprocess_echo_p99_us": 150.0,
        "kafka_echo_onex_per_s": 700.0,
        "kafka_echo_raw_aiokafka_per_s": 1000.0,
        "kafka_echo_raw_aiokafka_in_flight_64_per_s": 800.0,
        "errors": {},
    }
    markdown = render_markdown(results)
    assert row(markdown, "inprocess_echo_per_s").endswith("| yes |")
    assert row(markdown, "inprocess_echo_p99_us").endswith("| **no** |")
    assert row(markdown, "kafka_echo_onex_per_s", ">= 0.7x raw aiokafka unbounded").endswith("| yes |"), "700 >= 700"
    bounded = row(markdown, "kafka_echo_onex_per_s", ">= 0.8x raw aiokafka at equal in-flight bound (64)")
    assert bounded.endswith("| yes |"), "700 >= 0.8 x 800 = 640"
    assert "(0.88x)" in bounded
    assert "not measured" in row(markdown, "startup_s")
    assert "| kafka echo: onex / raw aiokafka unbounded | 0.700 | - |" in markdown


def test_markdown_shows_the_spread_of_every_key() -> None:
    results: dict[str, Any] = {
        "startup_s": 0.5,
        "startup_max_s": 0.7,
        "spread": {
            "startup_s": {"min": 0.4, "max": 0.6, "runs": 3},
            "startup_max_s": {"min": 0.6, "max": 0.9, "runs": 3},
        },
    }
    markdown = render_markdown(results)
    assert "| 0.4 - 0.6 (3) |" in row(markdown, "startup_s")
    assert row(markdown, "startup_max_s") == "| startup_max_s | 0.7 | 0.6 - 0.9 (3) |"


def test_ratio_spread_pairs_the_repetitions() -> None:
    results = {"spread": {"a": {"samples": [10.0, 20.0, 30.0]}, "b": {"samples": [10.0, 10.0, 60.0]}}}
    assert paired_range(results, "a", "b") == (0.5, 2.0)
    results["spread"]["b"]["samples"] = [10.0, 10.0]
    assert paired_range(results, "a", "b") is None, "repetitions that do not pair up give no range"


def test_markdown_lists_failed_workloads() -> None:
    markdown = render_markdown({"errors": {"kafka_echo": "RuntimeError: broker down"}})
    assert "- `kafka_echo`: RuntimeError: broker down" in markdown


def test_every_issue_key_has_a_target() -> None:
    required = {
        "inprocess_echo_per_s",
        "inprocess_echo_p99_us",
        "kafka_echo_onex_per_s",
        "kafka_echo_raw_aiokafka_per_s",
        "kafka_echo_raw_aiokafka_in_flight_64_per_s",
        "kafka_echo_faststream_per_s",
        "kafka_echo_faststream_per_message_per_s",
        "kafka_echo_onex_exactly_once_per_s",
        "kafka_rtt_p99_ms_at_1000_per_s",
        "kafka_rtt_missing_replies",
        "kafka_rtt_samples",
        "kafka_rtt_onex_exactly_once_p99_ms_at_1000_per_s",
        "kafka_rtt_raw_aiokafka_p99_ms_at_1000_per_s",
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
    assert required <= {target.key for target in TARGETS}
    assert required <= set(required_keys())


def test_every_relative_target_is_measured_against_a_required_key() -> None:
    keys = set(required_keys())
    assert {target.relative_to for target in TARGETS if target.relative_to} <= keys


def test_chart_is_a_png_even_with_partial_results(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    render_chart(
        {
            "kafka_echo_onex_per_s": 100.0,
            "spread": {"kafka_echo_onex_per_s": {"min": 90.0, "max": 110.0, "runs": 3}},
            "db_query_onex_p99_ms": 1.0,
            "db_query_raw_p99_ms": 0.8,
        },
        path,
    )
    assert path.read_bytes().startswith(b"\x89PNG")
