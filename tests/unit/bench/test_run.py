"""The suite runner: every workload repeated, and a results file that stays strict JSON."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace
from typing import Any

from bench.run import _json_safe, _samples
from bench.settings import QUICK


def test_a_workload_without_its_own_repetitions_runs_once_per_repetition() -> None:
    calls: list[dict[str, Any]] = []

    def run(**kwargs: Any) -> dict[str, float]:
        calls.append(kwargs)
        return {"k": float(len(calls))}

    samples = _samples(SimpleNamespace(run=run), QUICK, quick=True, name="w")  # type: ignore[arg-type]
    assert samples == [{"k": 1.0}, {"k": 2.0}]
    assert calls == [{"quick": True}] * QUICK.repeats


def test_a_workload_that_orders_its_own_repetitions_is_asked_once() -> None:
    module = SimpleNamespace(samples=lambda settings: [{"k": 1.0}] * settings.repeats, run=None)
    assert _samples(module, QUICK, quick=True, name="w") == [{"k": 1.0}] * QUICK.repeats  # type: ignore[arg-type]


def test_nan_and_infinity_are_written_as_null() -> None:
    text = json.dumps(_json_safe({"a": math.nan, "s": {"b": {"samples": [1.0, math.inf]}}}), allow_nan=False)
    assert json.loads(text) == {"a": None, "s": {"b": {"samples": [1.0, None]}}}
