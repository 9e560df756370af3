"""``make bench``: run every workload, then write ``results/latest.{json,md,png}``.

Every figure that matters is reported next to a baseline measured in the same
run (raw client, raw aiokafka, FastStream), so drift of the shared machine
cancels out in the ratios. The suite reports; it never fails on a target.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.report import TARGETS, render_chart, render_markdown

RESULTS = Path(__file__).resolve().parent / "results"
WORKLOADS = ("inprocess", "memory", "startup", "handlers", "kafka_echo")


def _load(name: str) -> Callable[..., dict[str, Any]]:
    module = importlib.import_module(f"bench.workloads.{name}")
    run: Callable[..., dict[str, Any]] = module.run
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=WORKLOADS, help="run only these workloads")
    parser.add_argument("--quick", action="store_true", help="smaller counts, for checking the suite itself")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "python_version": platform.python_version(),
            "platform": platform.platform(),
        },
        "errors": {},
    }
    suite_started = time.monotonic()
    for name in args.only or WORKLOADS:
        print(f">> {name} ...", flush=True)
        started = time.monotonic()
        try:
            kwargs: dict[str, Any] = {"quick": True} if args.quick else {}
            measured = _load(name)(**kwargs)
        except Exception as exc:
            results["errors"][name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
            print(f"!! {name} failed after {time.monotonic() - started:.1f}s: {exc}", flush=True)
            continue
        machine = measured.pop("machine", {})
        results["machine"].update(machine)
        results.update(measured)
        shown = ", ".join(f"{k}={v:.4g}" for k, v in measured.items() if isinstance(v, int | float))
        print(f"   {name} done in {time.monotonic() - started:.1f}s: {shown}", flush=True)
    results["suite_seconds"] = round(time.monotonic() - suite_started, 1)

    # Only a full run may replace the committed ``latest`` figures.
    stem = "partial" if args.only or args.quick else "latest"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    (RESULTS / f"{stem}.md").write_text(render_markdown(results))
    render_chart(results, RESULTS / f"{stem}.png")
    missing = [key for key in TARGETS if key not in results]
    print(f">> wrote {RESULTS}/{stem}.json, {stem}.md, {stem}.png in {results['suite_seconds']}s")
    if results["errors"] or (stem == "latest" and missing):
        print(f"!! incomplete: errors in {sorted(results['errors'])}; missing keys {missing}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
