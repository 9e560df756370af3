"""Workload 1: ``NodeRuntime.route_envelope`` with the local echo handler, 1 KiB payloads, one core.

Also the cost of tracing: the same loop with every envelope inside the host's envelope span
(``HostTracing``, the code ``RuntimeHostProcess.handle_envelope`` runs), with the SDK's batch
processor and an exporter that drops what it is given, so the figure is the SDK's cost and not
a network's: sampled at 1.0 and at 0.01 (``parentbased_traceidratio``), beside the untraced loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from bench.workloads._stats import summarize
from onex_host.core.contracts import ModelNodeContract, ModelOperationSpec
from onex_host.core.enums import EnumHandlerType, EnumSideEffects
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.handlers.local import LocalHandler
from onex_host.infra.tracing import HostTracing
from onex_host.runtime.node_runtime import NodeRuntime

PAYLOAD = {"data": "x" * 1024}


class _DroppingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _tracing(ratio: float) -> HostTracing:
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)))
    provider.add_span_processor(BatchSpanProcessor(_DroppingExporter()))
    return HostTracing(provider=provider)


async def _measure(count: int, tracing: HostTracing | None = None, key: str = "inprocess_echo") -> dict[str, float]:
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

    async def route(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        if tracing is None:
            return await runtime.route_envelope(envelope)
        with tracing.envelope_span(envelope) as span:
            reply = await runtime.route_envelope(envelope)
            tracing.record_outcome(span, "echo", "echo", "local", reply)
            return reply

    for envelope in envelopes[: min(1000, count)]:  # warm-up
        await route(envelope)
    latencies: list[float] = []
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for envelope in envelopes:
        t0 = clock()
        await route(envelope)
        latencies.append((clock() - t0) / 1000)
    elapsed = time.perf_counter() - started
    if tracing is not None:
        tracing.shutdown()
    stats = summarize(latencies)
    return {f"{key}_per_s": count / elapsed, f"{key}_p50_us": stats["p50"], f"{key}_p99_us": stats["p99"]}


def run(quick: bool = False) -> dict[str, float]:
    count = 5_000 if quick else 50_000
    results = asyncio.run(_measure(count))
    results.update(asyncio.run(_measure(count, _tracing(1.0), "inprocess_echo_traced_all")))
    results.update(asyncio.run(_measure(count, _tracing(0.01), "inprocess_echo_traced_1pct")))
    return results
