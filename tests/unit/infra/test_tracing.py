"""Tracing's own logic: off unless configured, what a span carries, trace ids in log records."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from onex_host.core.enums import EnumErrorCode
from onex_host.infra import tracing
from onex_host.infra.tracing import HostTracing, TraceIdsFilter, TracingConfigError, configure_tracing
from tests.support.builders.factories import command


@pytest.mark.parametrize(
    "environ",
    [{}, {"OTEL_TRACES_EXPORTER": "none"}, {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}],
)
def test_tracing_is_off_unless_the_environment_turns_it_on(environ: dict[str, str]) -> None:
    host_tracing = configure_tracing("primary", environ)

    assert not host_tracing.enabled
    assert not tracing.active()


def test_an_unknown_exporter_is_named_in_the_error() -> None:
    with pytest.raises(TracingConfigError, match="OTEL_TRACES_EXPORTER='jaeger-thrift' is not supported"):
        configure_tracing("primary", {"OTEL_TRACES_EXPORTER": "jaeger-thrift"})


@pytest.fixture
def recorded() -> tuple[HostTracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return HostTracing(provider=provider, mode="shadow"), exporter


def test_an_envelope_span_carries_contract_names_and_the_outcome_never_the_error_text(
    recorded: tuple[HostTracing, InMemorySpanExporter],
) -> None:
    host_tracing, exporter = recorded
    request = command(operation="echo")
    reply = request.reply_error(EnumErrorCode.UPSTREAM_ERROR, "upstream said: token=hunter2-secret")

    with host_tracing.envelope_span(request) as span:
        host_tracing.record_outcome(span, "echo", "echo", "local", reply)
    (finished,) = exporter.get_finished_spans()

    assert finished.attributes is not None
    assert dict(finished.attributes) == {
        "onex.mode": "shadow",
        "onex.shadow": True,
        "onex.attempt": 1,
        "onex.correlation_id": str(request.correlation_id),
        "onex.node": "echo",
        "onex.operation": "echo",
        "onex.handler": "local",
        "onex.outcome": "error",
        "onex.error_code": "upstream_error",
    }
    assert "hunter2" not in str(finished.to_json())


def test_the_reply_continues_the_envelope_span_and_logs_inside_it_carry_its_ids(
    recorded: tuple[HostTracing, InMemorySpanExporter],
) -> None:
    host_tracing, _ = recorded
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "inside", None, None)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    with tracing.attached(tracing.extract_from_http({"traceparent": parent})):
        with host_tracing.envelope_span(command()) as span:
            TraceIdsFilter().filter(record)
            span_id = format(span.get_span_context().span_id, "016x")
        headers = tracing.reply_trace_headers()

    assert record.trace_id == "0af7651916cd43dd8448eb211c80319c"  # type: ignore[attr-defined]
    assert record.span_id == span_id  # type: ignore[attr-defined]
    assert headers["traceparent"] == f"00-0af7651916cd43dd8448eb211c80319c-{span_id}-01"


def test_without_an_envelope_span_there_is_nothing_to_inject() -> None:
    with tracing.attached(tracing.extract_from_headers([])):
        assert tracing.reply_trace_headers() == {}
