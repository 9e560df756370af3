"""Workload 4: RSS and tracemalloc peak with N node contracts loaded and initialised.

Each N runs in a fresh interpreter so one measurement cannot inherit another's heap.
The host is built exactly as ``onex-host run`` builds it (contract files on disk,
``load_host``, ``RuntimeHostProcess``, handlers initialised) but not started.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

NODE = """\
name: node_{i}
description: "benchmark node {i}"
operations:
  echo: {{handler_type: local, side_effects: none}}
  sleep: {{handler_type: local, side_effects: none}}
"""

HOST = """\
name: bench_memory
environment: test
contracts_directory: nodes
handlers: [{{handler_type: local}}]
event_bus: {{type: memory}}
nodes:
{refs}
"""


def write_contracts(directory: Path, count: int) -> Path:
    nodes = directory / "nodes"
    nodes.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (nodes / f"node_{i}.yaml").write_text(NODE.format(i=i))
    refs = "\n".join(f"  - {{slug: node_{i}, contract_path: node_{i}.yaml}}" for i in range(count))
    path = directory / "host.yaml"
    path.write_text(HOST.format(refs=refs))
    return path


def _current_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def probe(count: int, trace: bool) -> dict[str, float]:
    """Runs inside the child interpreter; RSS is read without tracemalloc, whose own bookkeeping inflates it."""
    if trace:
        tracemalloc.start()
    from onex_host.core.file_registry import load_host
    from onex_host.infra.process import RuntimeHostProcess

    with tempfile.TemporaryDirectory() as tmp:
        host = load_host(write_contracts(Path(tmp), count), env={})
        process = RuntimeHostProcess(host)
        asyncio.run(process.runtime.initialize())
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        return {"tracemalloc_peak_mb": peak / 2**20, "nodes": len(process.runtime.nodes)}
    return {"rss_mb": _current_rss_mb(), "nodes": len(process.runtime.nodes)}


def run(quick: bool = False) -> dict[str, float]:
    counts = (10, 100, 1000)
    results: dict[str, float] = {}
    for count in counts:
        for mode, key in (("rss", "rss_mb"), ("trace", "tracemalloc_peak_mb")):
            out = subprocess.run(
                [sys.executable, "-m", "bench.workloads.memory", str(count), mode],
                capture_output=True,
                text=True,
                check=True,
                timeout=300,
            )
            measured = json.loads(out.stdout)
            if measured["nodes"] != count:
                raise RuntimeError(f"expected {count} nodes, loaded {measured['nodes']}")
            results[f"{key}_{count}_nodes"] = measured[key]
    return results


if __name__ == "__main__":
    print(json.dumps(probe(int(sys.argv[1]), sys.argv[2] == "trace")))
