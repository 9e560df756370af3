"""OpenTelemetry tracing: W3C trace context in, one span per envelope, context out; off unless configured.

Configured by the standard ``OTEL_*`` environment variables and nothing else,
so an operator sets it up the way they set up any other service:

* ``OTEL_TRACES_EXPORTER``: ``otlp`` (OTLP over HTTP, the default once an
  ``OTEL_EXPORTER_OTLP_*ENDPOINT`` is set), ``zipkin`` (when
  ``opentelemetry-exporter-zipkin-json`` is installed), ``console`` or
  ``none``; with neither an exporter nor an endpoint set, tracing is off;
* ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
  ``OTEL_EXPORTER_ZIPKIN_ENDPOINT``: read by the exporters themselves;
* ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` (e.g.
  ``parentbased_traceidratio`` and ``0.01``), ``OTEL_SERVICE_NAME``,
  ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SDK_DISABLED``: read by the SDK.

With tracing off, ``HostTracing.enabled`` is false and the envelope path makes
no OpenTelemetry call at all, so it costs nothing measurable.

Span attributes come from the contracts and the outcome (node, operation,
handler, outcome, error code, attempt, mode), never from payloads or error
texts, so no secret can reach a trace backend through them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from onex_host.core.envelope import ModelOnexEnvelope

if TYPE_CHECKING:  # the SDK is imported only when tracing is configured: a host without it loads only the API
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

logger = logging.getLogger(__name__)

SERVICE_NAME = "onex-runtime-host"
_PROPAGATOR = TraceContextTextMapPropagator()

_reply_context: ContextVar[otel_context.Context | None] = ContextVar("onex_reply_trace_context", default=None)
"""The envelope span's context, left behind by ``envelope_span`` for the transport to inject into the reply."""

_attempt: ContextVar[int] = ContextVar("onex_delivery_attempt", default=1)

_active: HostTracing | None = None
"""The process's tracing when it is on; transports check ``active()`` before doing any tracing work."""


def active() -> bool:
    return _active is not None


def set_attempt(attempt: int) -> None:
    """The bus says which run of a command this is (retries run it again); recorded on the envelope span."""
    _attempt.set(attempt)


class TracingConfigError(ValueError):
    """An ``OTEL_*`` variable names something this host cannot do; the message names the variable."""


class _HeaderListGetter(Getter[list[tuple[str, bytes]]]):
    """Reads Kafka record headers: a list of ``(name, bytes)``."""

    def get(self, carrier: list[tuple[str, bytes]], key: str) -> list[str] | None:
        values = [value.decode("latin-1") for name, value in carrier if name.lower() == key and value is not None]
        return values or None

    def keys(self, carrier: list[tuple[str, bytes]]) -> list[str]:
        return [name for name, _ in carrier]


class _MappingGetter(Getter[Mapping[str, str]]):
    """Reads HTTP request headers (case-insensitive mappings)."""

    def get(self, carrier: Mapping[str, str], key: str) -> list[str] | None:
        value = carrier.get(key)
        return None if value is None else [value]

    def keys(self, carrier: Mapping[str, str]) -> list[str]:
        return list(carrier.keys())


class _DictSetter(Setter[MutableMapping[str, str]]):
    def set(self, carrier: MutableMapping[str, str], key: str, value: str) -> None:
        carrier[key] = value


@dataclass
class HostTracing:
    """The host's tracer, or none. Only ``enabled`` is read on the hot path when tracing is off."""

    provider: TracerProvider | None = None
    mode: str = "primary"

    def __post_init__(self) -> None:
        self._tracer = None if self.provider is None else self.provider.get_tracer("onex_host")

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def shutdown(self) -> None:
        """Flush what is buffered and stop; the process is no longer traced."""
        global _active
        if self.provider is not None:
            self.provider.shutdown()
            if _active is self:
                _active = None

    @contextmanager
    def envelope_span(self, envelope: ModelOnexEnvelope, *, kind: SpanKind = SpanKind.CONSUMER) -> Iterator[Span]:
        """One span per envelope, a child of whatever context the transport attached.

        An unsampled span is neither made current nor given attributes: the reply continues the
        incoming context as it came (if any), and the envelope pays only for the sampling decision.
        """
        assert self._tracer is not None
        name = f"onex {envelope.target_node or '*'}.{envelope.operation}"
        span = self._tracer.start_span(name, kind=kind, record_exception=False)
        if not span.is_recording():
            _reply_context.set(otel_context.get_current())
            yield span
            return
        span.set_attributes(
            {
                "onex.mode": self.mode,
                "onex.shadow": self.mode == "shadow",
                "onex.attempt": _attempt.get(),
                "onex.correlation_id": str(envelope.correlation_id),
            }
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            _reply_context.set(otel_context.get_current())
            yield span
        finally:
            otel_context.detach(token)
            span.end()

    @staticmethod
    def record_outcome(span: Span, node: str, operation: str, handler: str, reply: ModelOnexEnvelope) -> None:
        """Contract names and the outcome only: never payloads or error texts, which may quote a secret."""
        if not span.is_recording():
            return
        span.set_attributes(
            {
                "onex.node": node,
                "onex.operation": operation,
                "onex.handler": handler,
                "onex.outcome": "ok" if reply.success else "error",
            }
        )
        if reply.error_code is not None:
            span.set_attribute("onex.error_code", reply.error_code.value)
            span.set_status(Status(StatusCode.ERROR, reply.error_code.value))


def extract_from_headers(headers: list[tuple[str, bytes]] | None) -> otel_context.Context:
    """The W3C trace context a Kafka record carries (empty when it carries none)."""
    return _PROPAGATOR.extract(headers or [], getter=_HeaderListGetter())


def extract_from_http(headers: Mapping[str, str]) -> otel_context.Context:
    return _PROPAGATOR.extract(headers, getter=_MappingGetter())


@contextmanager
def attached(context: otel_context.Context) -> Iterator[None]:
    """Run the enclosed code with ``context`` current, so the envelope span becomes its child."""
    _reply_context.set(None)
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)


def reply_trace_record_headers() -> list[tuple[str, bytes]]:
    """``reply_trace_headers`` as Kafka record headers."""
    return [(name, value.encode("latin-1")) for name, value in reply_trace_headers().items()]


def reply_trace_headers() -> dict[str, str]:
    """``traceparent``/``tracestate`` of the last envelope span in this task, for the reply or dead letter."""
    context = _reply_context.get()
    if context is None:
        return {}
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context, setter=_DictSetter())
    return carrier


def configure_tracing(mode: str, environ: Mapping[str, str] | None = None) -> HostTracing:
    """Tracing as the ``OTEL_*`` variables say; ``HostTracing()`` (off) when they say nothing."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return HostTracing(mode=mode)
    exporter_name = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not exporter_name:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        exporter_name = "otlp" if endpoint else "none"
    if exporter_name == "none":
        return HostTracing(mode=mode)
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter = _exporter(exporter_name)
    attributes: dict[str, Any] = {"service.name": env.get("OTEL_SERVICE_NAME") or SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    _instrument_clients(provider)
    logger.info("tracing on", extra={"exporter": exporter_name, "mode": mode})
    global _active
    _active = HostTracing(provider=provider, mode=mode)
    return _active


def _exporter(name: str) -> SpanExporter:
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "zipkin":
        try:
            from opentelemetry.exporter.zipkin.json import ZipkinExporter
        except ImportError:
            raise TracingConfigError(
                "OTEL_TRACES_EXPORTER=zipkin needs the opentelemetry-exporter-zipkin-json package"
            ) from None
        return ZipkinExporter()
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    raise TracingConfigError(f"OTEL_TRACES_EXPORTER={name!r} is not supported (otlp, zipkin, console, none)")


def _instrument_clients(provider: TracerProvider) -> None:
    """Child spans for the upstream calls, from the maintained instrumentations of our clients."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    for instrumentor in (HTTPXClientInstrumentor(), AsyncPGInstrumentor()):  # type: ignore[no-untyped-call]
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)


class TraceIdsFilter(logging.Filter):
    """Adds ``trace_id``/``span_id`` to every log record made while a span is current."""

    def filter(self, record: logging.LogRecord) -> bool:
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            record.trace_id = format(span_context.trace_id, "032x")
            record.span_id = format(span_context.span_id, "016x")
        return True
