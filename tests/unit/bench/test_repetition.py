"""Repetitions: the order sides run in and the median/spread every reported key is made of."""

from __future__ import annotations

import math

from bench.repetition import aggregate, alternating_orders
from hypothesis import given
from hypothesis import strategies as st


def test_orders_alternate_forward_and_reversed() -> None:
    assert alternating_orders(["a", "b", "c"], 3) == [["a", "b", "c"], ["c", "b", "a"], ["a", "b", "c"]]


@given(st.lists(st.text(min_size=1), min_size=1, max_size=8, unique=True), st.integers(min_value=1, max_value=8))
def test_every_side_runs_once_per_repetition_and_leads_no_more_than_its_share(names: list[str], repeats: int) -> None:
    orders = alternating_orders(names, repeats)
    assert len(orders) == repeats
    assert all(sorted(order) == sorted(names) for order in orders)
    if repeats % 2 == 0:  # in pairs, every side's mean position is the middle
        for name in names:
            assert sum(order.index(name) for order in orders) == repeats * (len(names) - 1) / 2


def test_aggregate_reports_the_median_and_the_range() -> None:
    medians, spread = aggregate([{"a": 3.0, "b": 1}, {"a": 1.0, "b": 2}, {"a": 10.0, "b": 3}])
    assert medians == {"a": 3.0, "b": 2.0}
    assert spread["a"] == {"min": 1.0, "max": 10.0, "runs": 3, "samples": [3.0, 1.0, 10.0]}


def test_a_nan_repetition_is_left_out_and_shows_as_fewer_runs() -> None:
    medians, spread = aggregate([{"a": math.nan}, {"a": 2.0}, {"a": 4.0}])
    assert medians["a"] == 3.0
    assert spread["a"]["runs"] == 2


def test_a_key_no_repetition_could_compute_is_nan_not_dropped() -> None:
    medians, spread = aggregate([{"a": math.nan}, {"a": math.nan}])
    assert math.isnan(medians["a"])
    assert spread["a"]["runs"] == 0


def test_only_numbers_are_aggregated() -> None:
    medians, _ = aggregate([{"a": 1.0, "machine": {"x": 1}, "flag": True, "name": "n"}])
    assert medians == {"a": 1.0}
