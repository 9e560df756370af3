"""Nearest-rank percentiles: every figure in the bench results goes through these."""

from __future__ import annotations

import math

import pytest
from bench.workloads._stats import percentile, summarize


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 0.5))


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [(0.0, 1.0), (0.01, 1.0), (0.5, 50.0), (0.99, 99.0), (1.0, 100.0)],
)
def test_percentile_is_nearest_rank(fraction: float, expected: float) -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, fraction) == expected


def test_p99_of_a_small_sample_is_its_largest_value() -> None:
    assert percentile([1.0, 2.0, 3.0], 0.99) == 3.0


def test_summarize_sorts_before_taking_percentiles() -> None:
    values = [float(v) for v in reversed(range(1, 101))]
    assert summarize(values) == {"p50": 50.0, "p99": 99.0, "max": 100.0, "n": 100.0}


def test_summarize_keeps_a_single_outlier_out_of_the_median() -> None:
    stats = summarize([1.0] * 99 + [1000.0])
    assert stats["p50"] == 1.0
    assert stats["p99"] == 1.0  # one outlier in 100 is the p100, not the p99
