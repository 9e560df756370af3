"""HTTP endpoints of a host: health probes, Prometheus metrics, ``POST /v1/envelopes`` and ``POST /admin/promote``.

Health, the envelope API and the admin endpoint share one listener (loopback
by default, optional bearer token for the API); metrics get their own port
unless both ports are the same, in which case one listener serves everything.

``POST /admin/promote`` (``infra.promotion``) exists only when the contract
sets ``health_endpoint.admin_token``; without one it is a 404 like any unknown
path. It takes only that token (the envelope API's token is a different value,
checked at load), only in the ``Authorization`` header (a request with a query
string is refused before anything is checked, so a token pasted into a URL is
never accepted), compared in constant time, and it never logs or echoes it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from onex_host.core.contracts import ModelHealthEndpointConfig, ModelMetricsEndpointConfig
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.loader import describe_error, format_location
from onex_host.core.replies import reply_wire
from onex_host.infra import tracing
from onex_host.infra.metrics import CONTENT_TYPE_LATEST
from onex_host.infra.promotion import PromotionOutcome, PromotionResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EndpointOverrides:
    """Command-line overrides of the contract's endpoints, so several hosts fit on one machine."""

    bind: str | None = None
    health_port: int | None = None
    metrics_port: int | None = None


class HealthReport(Protocol):
    @property
    def ready(self) -> bool: ...

    def as_json(self) -> dict[str, Any]: ...


class ServedHost(Protocol):
    """What the endpoints need from the host they serve; keeps this module free of the process."""

    def liveness(self) -> bool: ...

    async def health(self) -> HealthReport: ...

    def summary(self) -> Mapping[str, Any]:
        """Name, version, mode, uptime and nodes: the non-health part of ``GET /health``."""
        ...

    def render_metrics(self) -> bytes: ...

    async def handle_http_envelope(self, envelope: ModelOnexEnvelope) -> ModelOnexEnvelope: ...

    async def promote(self, handover_from: str | None = None, wait_idle_seconds: float = 0.0) -> PromotionResult: ...


ADMIN_PROMOTE_PATH = "/admin/promote"

_PROMOTION_STATUS: dict[PromotionOutcome, int] = {
    PromotionOutcome.PROMOTED: 200,
    PromotionOutcome.ALREADY_ACTIVE: 200,
    PromotionOutcome.NOT_NOW: 503,
    PromotionOutcome.REFUSED: 409,
    PromotionOutcome.UNAVAILABLE: 503,
}


MAX_WAIT_IDLE_SECONDS = 900.0
"""A cutover window is minutes; a longer wait is a forgotten call (the host's admin endpoint stays busy)."""


class PromoteRequest(BaseModel):
    """The body of ``POST /admin/promote``: empty, ``{}``, or the legacy group to hand over from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    handover_from_group: str | None = Field(default=None, min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
    """Consumer group ids are free text to Kafka; printable ASCII without spaces covers every real one."""
    wait_idle_seconds: float = Field(default=0.0, ge=0, le=MAX_WAIT_IDLE_SECONDS, allow_inf_nan=False)
    """Wait this long for the handover's source group to have no member (call before stopping legacy)."""

    @model_validator(mode="after")
    def _wait_needs_a_handover(self) -> PromoteRequest:
        if self.wait_idle_seconds and self.handover_from_group is None:
            raise ValueError("wait_idle_seconds needs handover_from_group (whose members it waits for)")
        return self


def parse_promote_request(body: bytes) -> PromoteRequest | str:
    """The request, or one line saying what is wrong with the body (an empty body asks for no handover)."""
    if not body.strip():
        return PromoteRequest()
    try:
        return PromoteRequest.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(f"{format_location(e['loc']) or 'body'}: {describe_error(e)}" for e in exc.errors())
        # Field names come from the body: escaped, so the answer stays one printable line.
        return "invalid promote request: " + "".join(c if c.isprintable() else ascii(c)[1:-1] for c in problems)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class HttpEndpoints:
    def __init__(
        self,
        process: ServedHost,
        health: ModelHealthEndpointConfig,
        metrics: ModelMetricsEndpointConfig,
        overrides: EndpointOverrides,
        shutdown_timeout: float,
    ) -> None:
        self._process = process
        self._health = health
        self._metrics = metrics
        self._bind_health = overrides.bind or health.bind
        self._bind_metrics = overrides.bind or metrics.bind
        self._health_port = health.port if overrides.health_port is None else overrides.health_port
        self._metrics_port = metrics.port if overrides.metrics_port is None else overrides.metrics_port
        self._token = health.bearer_token.get_secret_value().encode() if health.bearer_token else None
        self._admin_token = health.admin_token.get_secret_value().encode() if health.admin_token else None
        self._shutdown_timeout = shutdown_timeout
        self._runners: list[web.AppRunner] = []
        self.addresses: dict[str, tuple[str, int]] = {}

    # -- routes -------------------------------------------------------------------------

    def _health_routes(self, app: web.Application) -> None:
        base = self._health.path.rstrip("/")
        app.router.add_get(f"{base}/live", self._live)
        app.router.add_get(f"{base}/ready", self._ready)
        app.router.add_get(base or "/", self._summary)
        if self._health.envelope_api:
            app.router.add_post("/v1/envelopes", self._envelopes)
        if self._admin_token is not None:
            app.router.add_post(ADMIN_PROMOTE_PATH, self._promote)

    def _metrics_routes(self, app: web.Application) -> None:
        app.router.add_get(self._metrics.path, self._render_metrics)

    async def _live(self, request: web.Request) -> web.Response:
        live = self._process.liveness()
        return web.json_response({"live": live}, status=200 if live else 503)

    async def _ready(self, request: web.Request) -> web.Response:
        health = await self._process.health()
        return web.json_response(health.as_json(), status=200 if health.ready else 503)

    async def _summary(self, request: web.Request) -> web.Response:
        health = await self._process.health()
        body: dict[str, Any] = {
            "status": "healthy" if health.ready else "unhealthy",
            **self._process.summary(),
            **health.as_json(),
        }
        return web.json_response(body, status=200 if health.ready else 503)

    async def _render_metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self._process.render_metrics(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _envelopes(self, request: web.Request) -> web.Response:
        if self._token is not None and not self._authorized(request.headers.get("Authorization", "")):
            return _error(401, "missing or wrong bearer token (expected 'Authorization: Bearer <token>')")
        body = await request.read()
        try:
            envelope = ModelOnexEnvelope.from_wire(body)
        except ValidationError as exc:
            problems = "; ".join(f"{format_location(e['loc']) or 'body'}: {describe_error(e)}" for e in exc.errors())
            return _error(400, f"invalid envelope: {problems}")
        if not tracing.active():
            reply = await self._process.handle_http_envelope(envelope)
            return web.Response(body=reply_wire(envelope, reply), content_type="application/json")
        with tracing.attached(tracing.extract_from_http(request.headers)):
            reply = await self._process.handle_http_envelope(envelope)
            headers = tracing.reply_trace_headers()
        return web.Response(body=reply_wire(envelope, reply), content_type="application/json", headers=headers)

    def _authorized(self, header: str, token: bytes | None = None) -> bool:
        """RFC 6750's ``Bearer`` scheme (case-insensitive), compared in constant time with ``token``
        (default: the envelope API's).

        The header arrives decoded by aiohttp; bytes that are not UTF-8 come back
        as surrogates, which ``surrogateescape`` turns into bytes again instead of
        raising, so a malformed header is a 401 like any wrong token.
        """
        expected = token if token is not None else self._token
        assert expected is not None
        scheme, _, supplied = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(supplied.strip().encode("utf-8", "surrogateescape"), expected)

    async def _promote(self, request: web.Request) -> web.Response:
        if request.query_string:
            # Checked first: a token in a URL ends up in shell history and proxy logs, so it is never accepted.
            return _error(400, "query parameters are not accepted; send the admin token as 'Authorization: Bearer'")
        if not self._authorized(request.headers.get("Authorization", ""), self._admin_token):
            logger.warning("admin request refused: missing or wrong admin token", extra={"path": request.path})
            return _error(401, "missing or wrong admin token (expected 'Authorization: Bearer <admin token>')")
        wanted = parse_promote_request(await request.read())
        if isinstance(wanted, str):
            return _error(400, wanted)
        # Shielded: a client that disconnects mid-way must not cancel a half-done handover or join.
        result = await asyncio.shield(self._process.promote(wanted.handover_from_group, wanted.wait_idle_seconds))
        return web.json_response(result.as_json(), status=_PROMOTION_STATUS[result.outcome])

    # -- lifecycle ----------------------------------------------------------------------

    async def _serve(self, name: str, app: web.Application, bind: str, port: int) -> None:
        # In-flight API requests get the same drain window as bus work.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=self._shutdown_timeout)
        await runner.setup()
        site = web.TCPSite(runner, bind, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise OSError(exc.errno, f"cannot listen for {name} on {bind}:{port}: {exc.strerror}") from None
        self._runners.append(runner)
        host, bound_port = runner.addresses[0][:2]
        self.addresses[name] = (str(host), int(bound_port))

    async def start(self) -> None:
        same_listener = self._health_port == self._metrics_port != 0 and self._bind_health == self._bind_metrics
        if self._health.enabled:
            app = web.Application()
            self._health_routes(app)
            if same_listener and self._metrics.enabled:
                self._metrics_routes(app)
            await self._serve("health", app, self._bind_health, self._health_port)
        if self._metrics.enabled and not (same_listener and self._health.enabled):
            app = web.Application()
            self._metrics_routes(app)
            await self._serve("metrics", app, self._bind_metrics, self._metrics_port)

    async def stop(self) -> None:
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    def describe(self) -> dict[str, str]:
        return {name: f"http://{host}:{port}" for name, (host, port) in self.addresses.items()}
