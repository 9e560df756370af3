"""Workload 5: seconds from ``onex-host run`` (dev contract) to ``/health/ready`` = 200."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from tests.support.builders.host_process import HostProcess


def run(quick: bool = False) -> dict[str, float]:
    repeats = 2 if quick else 5
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            with HostProcess(None, Path(tmp)) as host:
                samples.append(host.wait_ready(timeout=60))
                host.terminate()
    return {"startup_s": statistics.median(samples), "startup_max_s": max(samples)}
