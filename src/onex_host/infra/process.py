"""``RuntimeHostProcess``: the production process around a ``NodeRuntime``.

It owns everything with a loop or a socket: the event bus that feeds
envelopes in, the HTTP endpoints, the signal handlers, and the drain on
shutdown. Handlers are registered only through ``onex_host.infra.wiring``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretStr

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.errors import ContractError, ContractProblem
from onex_host.core.file_registry import LoadedHost
from onex_host.core.operation import ModelBusHealth, ModelHandlerHealth
from onex_host.core.scrubbing import register_secrets, scrub_value
from onex_host.infra.bus.factory import build_event_bus, parse_event_bus_config
from onex_host.infra.http_api import EndpointOverrides, HttpEndpoints
from onex_host.infra.metrics import HostMetrics
from onex_host.infra.promotion import PromotionResult, StandbyPromotion, kafka_handover
from onex_host.infra.tracing import TracingConfigError, configure_tracing
from onex_host.infra.wiring import register_handlers
from onex_host.runtime.node_runtime import NodeRuntime
from onex_host.spi.event_bus import ProtocolEventBus
from onex_host.spi.handler import ProtocolHandler

logger = logging.getLogger(__name__)

HEALTH_PROBE_TIMEOUT_S = 2.0
HEALTH_CACHE_S = 1.0


@dataclass(frozen=True)
class HostHealth:
    live: bool
    ready: bool
    bus: ModelBusHealth | None
    handlers: tuple[ModelHandlerHealth, ...]

    def as_json(self) -> dict[str, Any]:
        """What /health and /health/ready show (unauthenticated): through the scrubber, like every output."""
        return scrub_value(
            {
                "live": self.live,
                "ready": self.ready,
                "bus": self.bus.model_dump(mode="json") if self.bus else None,
                "handlers": {
                    h.handler_type.value: h.model_dump(mode="json", exclude={"handler_type"}) for h in self.handlers
                },
            }
        )


def secret_values(*configs: BaseModel | SecretStr | None) -> list[str]:
    """Every ``SecretStr`` value in parsed configs, nested models and lists included, for the scrubber."""
    found: list[str] = []
    pending: list[object] = list(configs)
    while pending:
        value = pending.pop()
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            pending.extend(vars(value).values())
        elif isinstance(value, list | tuple):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
    return found


class RuntimeHostProcess:
    def __init__(self, host: LoadedHost, overrides: EndpointOverrides | None = None, *, standby: bool = False) -> None:
        """``standby``: start everything but consume nothing until ``promote`` (``infra.promotion``)."""
        contract = host.contract
        self.host = host
        # Parsed even when the bus is disabled: its mode still makes an HTTP-only host a shadow one.
        bus_config = parse_event_bus_config(contract.event_bus, source=str(host.path))
        self.mode = bus_config.mode
        self.metrics = HostMetrics(mode=self.mode)
        try:
            self.tracing = configure_tracing(self.mode)
        except TracingConfigError as exc:
            raise ContractError([ContractProblem("(environment)", "OTEL_TRACES_EXPORTER", str(exc))]) from None
        self._inflight = self.metrics.inflight
        self.metrics.ready.labels(self.mode).set_function(self._ready_gauge)
        self.runtime = NodeRuntime(shadow=self.mode == "shadow")
        handler_configs = register_handlers(self.runtime, contract, str(host.path))
        health_endpoint = contract.health_endpoint
        register_secrets(
            secret_values(*handler_configs, bus_config, health_endpoint.bearer_token, health_endpoint.admin_token)
        )
        self.runtime.add_nodes(host.nodes)
        self.metrics.declare({slug: frozenset(node.contract.operations) for slug, node in self.runtime.nodes.items()})
        self.bus: ProtocolEventBus | None = None
        if contract.event_bus.enabled:
            self.bus = build_event_bus(
                bus_config, max_concurrent=contract.max_concurrent_operations, metrics=self.metrics
            )
        overrides = overrides or EndpointOverrides()
        exposure = contract.health_endpoint.api_exposure_problem(overrides.bind or contract.health_endpoint.bind)
        if exposure:
            raise ContractError([ContractProblem(host.path, "health_endpoint.bearer_token", exposure)])
        if standby and not (health_endpoint.enabled and health_endpoint.admin_token):
            raise ContractError(
                [
                    ContractProblem(
                        host.path,
                        "health_endpoint.admin_token",
                        "a standby host could never be promoted: it needs the health endpoint enabled and an "
                        "admin token (e.g. admin_token: ${ONEX_ADMIN_TOKEN})",
                    )
                ]
            )
        consumer_groups = self.bus is not None and contract.event_bus.type == "kafka"
        self.promotion = StandbyPromotion(
            standby=standby,
            join=self._join,
            can_promote=self._promotion_problem,
            hand_over=kafka_handover(bus_config, target_idle=self._warm_transactions) if consumer_groups else None,
            mode=self.mode,
        )
        self.metrics.standby.labels(self.mode).set_function(lambda: 1.0 if self.promotion.standby else 0.0)
        self.endpoints = HttpEndpoints(
            self, contract.health_endpoint, contract.metrics_endpoint, overrides, contract.shutdown_timeout_seconds
        )
        self._http_slots = asyncio.Semaphore(contract.max_concurrent_operations)
        self._stop_requested = asyncio.Event()
        self._started = False
        self._stopping = False
        self._started_at = time.monotonic()
        self._health_cache: tuple[float, tuple[ModelHandlerHealth, ...]] | None = None

    # -- envelope path -----------------------------------------------------------------

    async def handle_envelope(self, envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        """Route one envelope and record it; the single entry point for the bus and the HTTP API."""
        if self.tracing.enabled:
            with self.tracing.envelope_span(envelope) as span:
                reply = await self._handle(envelope)
                node, operation = self._metric_labels(envelope)
                self.tracing.record_outcome(span, node, operation, envelope.handler_type.value, reply)
                return reply
        return await self._handle(envelope)

    async def _handle(self, envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        self._inflight.inc()
        started = time.perf_counter()
        try:
            reply = await self.runtime.route_envelope(envelope)
        finally:
            self._inflight.dec()
        elapsed = time.perf_counter() - started
        node, operation = self._metric_labels(envelope)
        outcome = "ok" if reply.success else (reply.error_code.value if reply.error_code else "error")
        self.metrics.record(node, operation, outcome, elapsed)
        return reply

    def _metric_labels(self, envelope: ModelOnexEnvelope) -> tuple[str, str]:
        return self.metrics.labels_for(envelope.target_node, envelope.operation)

    async def handle_http_envelope(self, envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        async with self._http_slots:
            return await self.handle_envelope(envelope)

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Initialize handlers, open the endpoints, then start consuming; in that order so
        nothing is consumed before the host can serve it."""
        contract = self.host.contract
        logger.info(
            "starting runtime host",
            extra={
                "contract": contract.name,
                "nodes": len(self.runtime.nodes),
                "mode": self.mode,
                "handlers": [h.value for h in self.runtime.handlers],
            },
        )
        await self.runtime.initialize()
        await self.endpoints.start()
        if self.bus is not None:
            if self.promotion.standby:
                await self.bus.prepare()
            else:
                await self.bus.start(self.handle_envelope)
        self._started = True
        logger.info(
            "runtime host started",
            extra={"endpoints": self.endpoints.describe(), "standby": self.promotion.standby},
        )

    async def promote(self, handover_from: str | None = None, wait_idle_seconds: float = 0.0) -> PromotionResult:
        """Make a standby host consume: hand over from ``handover_from`` first when given (``infra.promotion``)."""
        return await self.promotion.promote(handover_from, wait_idle_seconds)

    async def _join(self) -> None:
        if self.bus is None:
            return
        await self.bus.start(self.handle_envelope)
        health = self.bus.health()
        if health.details.get("standby") or "error" in health.details:
            # e.g. the brokers refused the credentials: the bus stays up but unready, and must not count as joined
            raise ConnectionError(f"the event bus did not start: {health.details.get('error', 'see the host log')}")

    def _warm_transactions(self, partitions: list[int]) -> None:
        """The handed-over group is empty: an exactly-once bus may start its partitions' producers now.

        Only the Kafka bus has transactions (and is imported only for a Kafka host), hence the duck typing.
        """
        warm = getattr(self.bus, "warm_transactions", None)
        if warm is not None:
            warm(partitions)

    def _promotion_problem(self) -> str | None:
        if self._stopping:
            return "the host is stopping"
        if not self._started:
            return "the host is still starting"
        return None

    def request_stop(self) -> None:
        self._stop_requested.set()

    async def stop(self) -> None:
        """Stop fetching, drain in-flight work, release everything; bounded by the shutdown timeout."""
        if self._stopping:
            return
        self._stopping = True
        timeout = self.host.contract.shutdown_timeout_seconds
        logger.info("draining", extra={"timeout_s": timeout})
        try:
            # A promotion in flight finishes first, so the bus is never started after it was stopped.
            await asyncio.wait_for(self.promotion.settled(), timeout)
        except TimeoutError:
            logger.error("a promotion was still running at the shutdown timeout")
        if self.bus is not None:
            try:
                await asyncio.wait_for(self.bus.stop(timeout), timeout + 1)
            except TimeoutError:
                logger.error("event bus did not stop within the shutdown timeout")
        await self.endpoints.stop()
        await self.runtime.shutdown()
        self.tracing.shutdown()
        logger.info("runtime host stopped")

    async def run(self, on_started: Callable[[], None] | None = None) -> None:
        """Start, serve until SIGTERM/SIGINT (or ``request_stop``), then drain and stop.

        ``on_started`` runs once the host is serving: the CLI settles the heap there (``heap``), which a
        test process that runs hosts in-process must not have done to it.
        """
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            await self.start()
            if on_started is not None:
                on_started()
            await self._stop_requested.wait()
        finally:
            await self.stop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        logger.info("signal received, shutting down", extra={"signal": sig.name})
        self._stop_requested.set()

    # -- health -------------------------------------------------------------------------

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self._started_at

    def summary(self) -> dict[str, Any]:
        contract = self.host.contract
        return {
            "name": contract.name,
            "version": contract.version,
            "mode": self.mode,
            "standby": self.promotion.standby,
            "uptime_seconds": round(self.uptime_seconds, 3),
            "nodes": sorted(self.runtime.nodes),
        }

    def render_metrics(self) -> bytes:
        return self.metrics.render()

    async def _handler_health(self) -> tuple[ModelHandlerHealth, ...]:
        now = time.monotonic()
        if self._health_cache and now - self._health_cache[0] < HEALTH_CACHE_S:
            return self._health_cache[1]
        results = await asyncio.gather(*(self._probe(handler) for handler in self.runtime.handlers.values()))
        self._health_cache = (now, tuple(results))
        return self._health_cache[1]

    @staticmethod
    async def _probe(handler: ProtocolHandler) -> ModelHandlerHealth:
        """A health check that never hangs a probe: a slow upstream counts as unhealthy."""
        try:
            async with asyncio.timeout(HEALTH_PROBE_TIMEOUT_S):
                return await handler.health_check()
        except TimeoutError:
            return ModelHandlerHealth(
                handler_type=handler.handler_type,
                healthy=False,
                details={"error": f"health check timed out after {HEALTH_PROBE_TIMEOUT_S}s"},
            )

    async def health(self) -> HostHealth:
        bus = self.bus.health() if self.bus is not None else None
        handlers = await self._handler_health()
        live = self.liveness()
        ready = self._started and not self._stopping and (bus is None or bus.ready) and all(h.healthy for h in handlers)
        return HostHealth(live=live, ready=ready, bus=bus, handlers=handlers)

    def _ready_gauge(self) -> float:
        """``onex_ready`` at scrape time: what /health/ready would answer, the handlers as last probed.

        A scrape must not run the handlers' async checks (each may take HEALTH_PROBE_TIMEOUT_S), so it
        reads the latest /health/ready results (before the first probe, initialized handlers count
        as healthy); the lifecycle and the bus are read live.
        """
        if not self._started or self._stopping or (self.bus is not None and not self.bus.health().ready):
            return 0.0
        handlers = self._health_cache[1] if self._health_cache else ()
        return 1.0 if all(handler.healthy for handler in handlers) else 0.0

    def liveness(self) -> bool:
        """The process serves and its bus makes progress.

        Stays true while starting and while draining: killing a host that is
        busy finishing its work would lose exactly what the drain protects.
        """
        if not self._started or self._stopping or self.bus is None:
            return True
        return self.bus.health().live
