"""Repeated measurements: the order sides run in, and one figure (median) plus its spread per key.

One sample per side says little on a shared machine: a burst from another
tenant lands on whichever side runs at the time, and the first side on a
cold broker pays for the broker's warm-up. So every workload runs several
times, the sides in alternating order (forward, reversed, forward, ...: every
side's mean position is the same), and each key is reported as the median of
its repetitions with the smallest and the largest value beside it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any


def alternating_orders(names: Sequence[str], repeats: int) -> list[list[str]]:
    """The order of ``names`` in each of ``repeats`` repetitions: forward, reversed, forward, ..."""
    forward = list(names)
    return [forward if index % 2 == 0 else forward[::-1] for index in range(repeats)]


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def aggregate(samples: Sequence[Mapping[str, Any]]) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """Per numeric key: the median over the samples that measured it, and its spread.

    A NaN (a figure that could not be computed in one repetition) is left out
    of the median and counted in ``runs`` only by its absence, so one broken
    repetition shows as ``runs`` < the repetitions asked for, not as a NaN
    median. A key every repetition failed to compute is NaN.
    """
    collected: dict[str, list[float]] = {}
    for sample in samples:
        for key, value in sample.items():
            if _numeric(value):
                collected.setdefault(key, []).append(float(value))
    medians: dict[str, float] = {}
    spread: dict[str, dict[str, Any]] = {}
    for key, values in collected.items():
        valid = [value for value in values if not math.isnan(value)]
        if not valid:
            medians[key] = math.nan
            spread[key] = {"min": math.nan, "max": math.nan, "runs": 0, "samples": values}
            continue
        medians[key] = statistics.median(valid)
        spread[key] = {"min": min(valid), "max": max(valid), "runs": len(valid), "samples": values}
    return medians, spread
