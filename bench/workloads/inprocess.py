"""Workload 1: ``NodeRuntime.route_envelope`` with the local echo handler, 1 KiB payloads, one core."""

from __future__ import annotations

import asyncio
import time

from bench.workloads._stats import summarize
from onex_host.core.contracts import ModelNodeContract, ModelOperationSpec
from onex_host.core.enums import EnumHandlerType, EnumSideEffects
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.handlers.local import LocalHandler
from onex_host.runtime.node_runtime import NodeRuntime

PAYLOAD = {"data": "x" * 1024}


async def _measure(count: int) -> dict[str, float]:
    runtime = NodeRuntime()
    runtime.register_handler(LocalHandler())
    runtime.add_node(
        "echo",
        ModelNodeContract(
            name="echo",
            operations={
                "echo": ModelOperationSpec(handler_type=EnumHandlerType.LOCAL, side_effects=EnumSideEffects.NONE)
            },
        ),
    )
    await runtime.initialize()
    envelopes = [
        ModelOnexEnvelope(
            source_node="bench",
            target_node="echo",
            handler_type=EnumHandlerType.LOCAL,
            operation="echo",
            payload=PAYLOAD,
        )
        for _ in range(count)
    ]
    for envelope in envelopes[: min(1000, count)]:  # warm-up
        await runtime.route_envelope(envelope)
    latencies: list[float] = []
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for envelope in envelopes:
        t0 = clock()
        await runtime.route_envelope(envelope)
        latencies.append((clock() - t0) / 1000)
    elapsed = time.perf_counter() - started
    stats = summarize(latencies)
    return {
        "inprocess_echo_per_s": count / elapsed,
        "inprocess_echo_p50_us": stats["p50"],
        "inprocess_echo_p99_us": stats["p99"],
    }


def run(quick: bool = False) -> dict[str, float]:
    return asyncio.run(_measure(5_000 if quick else 50_000))
