"""``make bench``: run every workload several times, then write ``results/latest.{json,md,png}``.

Every figure that matters is reported next to a baseline measured in the same
run (raw client, raw aiokafka, FastStream), so drift of the shared machine
cancels out in the ratios. Each workload runs ``BENCH_REPEATS`` times (see
``bench.settings`` for every variable and its default); each key is the
median of its repetitions, with min/max/runs under ``spread``. The suite
reports; it never fails on a target.
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import json
import math
import os
import platform
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.repetition import aggregate
from bench.report import render_chart, render_markdown, required_keys
from bench.settings import Settings, SettingsError, from_env
from onex_host import __file__ as _onex_host_init

RESULTS = Path(__file__).resolve().parent / "results"
WORKLOADS = ("inprocess", "memory", "startup", "handlers", "kafka_echo")


def _samples(module: ModuleType, settings: Settings, quick: bool, name: str) -> list[dict[str, Any]]:
    """A workload's repetitions: its own ``samples(settings)`` (which orders its sides itself), or
    ``run(quick)`` called ``settings.repeats`` times."""
    if hasattr(module, "samples"):
        own: list[dict[str, Any]] = module.samples(settings)
        return own
    out = []
    for index in range(settings.repeats):
        started = time.monotonic()
        kwargs: dict[str, Any] = {"quick": True} if quick else {}
        out.append(module.run(**kwargs))
        print(f"   {name} [{index + 1}/{settings.repeats}] in {time.monotonic() - started:.1f}s", flush=True)
    return out


def _json_safe(value: Any) -> Any:
    """NaN and infinities as null: the results file stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=WORKLOADS, help="run only these workloads")
    parser.add_argument("--quick", action="store_true", help="smaller counts, for checking the suite itself")
    args = parser.parse_args(argv)
    try:
        settings = from_env(quick=args.quick)
    except SettingsError as exc:
        print(f"!! {exc}", file=sys.stderr)
        return 2

    results: dict[str, Any] = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "python_version": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": asdict(settings),
        "errors": {},
        "spread": {},
    }
    print(f">> settings: {asdict(settings)}", flush=True)
    # The host's modules as bytecode, as a deployed image has them (``make venv`` compiles the dependencies):
    # otherwise a machine with PYTHONDONTWRITEBYTECODE=1 compiles them from source in every process the
    # suite starts, and ``startup_s`` and the RSS figures measure the compiler (1.9 s instead of 0.8 s).
    compileall.compile_dir(Path(_onex_host_init).parent, quiet=1)
    suite_started = time.monotonic()
    for name in args.only or WORKLOADS:
        print(f">> {name} ...", flush=True)
        started = time.monotonic()
        try:
            samples = _samples(importlib.import_module(f"bench.workloads.{name}"), settings, args.quick, name)
        except Exception as exc:
            results["errors"][name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
            print(f"!! {name} failed after {time.monotonic() - started:.1f}s: {exc}", flush=True)
            continue
        for sample in samples:
            results["machine"].update(sample.pop("machine", {}))
        medians, spread = aggregate(samples)
        results.update(medians)
        results["spread"].update(spread)
        shown = ", ".join(f"{k}={v:.4g}" for k, v in medians.items())
        print(f"   {name} done in {time.monotonic() - started:.1f}s (medians): {shown}", flush=True)
    results["suite_seconds"] = round(time.monotonic() - suite_started, 1)

    # Only a full run may replace the committed ``latest`` figures.
    stem = "partial" if args.only or args.quick or settings.partial else "latest"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(_json_safe(results), indent=2, sort_keys=True) + "\n")
    (RESULTS / f"{stem}.md").write_text(render_markdown(results))
    render_chart(results, RESULTS / f"{stem}.png")
    missing = [key for key in required_keys() if key not in results]
    print(f">> wrote {RESULTS}/{stem}.json, {stem}.md, {stem}.png in {results['suite_seconds']}s")
    if results["errors"] or (stem == "latest" and missing):
        print(f"!! incomplete: errors in {sorted(results['errors'])}; missing keys {missing}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
