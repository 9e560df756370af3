"""Contract models: the runtime host contract and the node contracts it loads.

Handler and event-bus settings stay free-form mappings here because their
shape belongs to the transport that reads them (``onex_host.infra``); the
wiring registry validates them against each handler's own config model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from onex_host.core.enums import EnumHandlerType, EnumNodeKind, EnumSideEffects
from onex_host.core.secrets import SecretText

EnvironmentName = Literal["dev", "test", "staging", "production"]
EventBusType = Literal["memory", "kafka"]


def _first_repeat(values: Iterable[str]) -> str | None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelHandlerConfig(_Strict):
    handler_type: EnumHandlerType
    enabled: bool = True
    config: dict[str, Any] = Field(default_factory=dict)


class ModelEventBusConfig(_Strict):
    """The transport that feeds envelopes in; separate from per-request handlers."""

    type: EventBusType = "memory"
    enabled: bool = True
    config: dict[str, Any] = Field(default_factory=dict)


LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "::1", "localhost"})
URL_PATH_PATTERN = r"^/[A-Za-z0-9._~/-]*$"
"""An endpoint path: starts with '/', plain characters only (aiohttp refuses anything else at start-up)."""


class ModelHealthEndpointConfig(_Strict):
    """Health probes plus ``POST /v1/envelopes``; loopback-only unless ``bind`` says otherwise.

    The envelope API can do whatever the node contracts allow, so it is never
    served beyond loopback without a bearer token (see ``api_exposure_problem``).
    """

    enabled: bool = True
    bind: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    path: str = Field(default="/health", pattern=URL_PATH_PATTERN)
    envelope_api: bool = True
    bearer_token: SecretText | None = Field(
        default=None, description="Required of POST /v1/envelopes as 'Authorization: Bearer <token>'."
    )
    admin_token: SecretText | None = Field(
        default=None,
        description="Required of POST /admin/promote as 'Authorization: Bearer <token>'; without one (or empty) "
        "the admin endpoint does not exist. Must differ from bearer_token: whoever may send envelopes may not "
        "promote a standby host.",
    )

    @model_validator(mode="after")
    def _admin_token_is_its_own(self) -> ModelHealthEndpointConfig:
        admin, api = self.admin_token, self.bearer_token
        if admin and api and admin.get_secret_value() == api.get_secret_value():
            raise ValueError("admin_token must differ from bearer_token (the values are not shown)")
        return self

    def api_exposure_problem(self, bind: str) -> str | None:
        """Why serving the envelope API on ``bind`` would be unsafe, or None."""
        if self.enabled and self.envelope_api and not self.bearer_token and bind not in LOOPBACK_ADDRESSES:
            return (
                f"the envelope API would listen on {bind} without a bearer token; "
                "set health_endpoint.bearer_token (e.g. from ${ONEX_API_TOKEN}) or envelope_api: false"
            )
        return None


class ModelMetricsEndpointConfig(_Strict):
    enabled: bool = True
    bind: str = "127.0.0.1"
    port: int = Field(default=9090, ge=0, le=65535)
    path: str = Field(default="/metrics", pattern=URL_PATH_PATTERN)


class ModelNodeRef(_Strict):
    slug: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    contract_path: str
    enabled: bool = True
    config_overrides: dict[str, Any] = Field(default_factory=dict)


class ModelRuntimeHostContract(_Strict):
    """Which nodes a host runs, which handlers it enables, and how it is fed."""

    name: str = Field(min_length=1)
    version: str = "1.0.0"
    description: str = ""
    environment: EnvironmentName = Field(
        default="production",
        description="Defaults to production so the dev-only local handler must be opted into explicitly.",
    )

    nodes: list[ModelNodeRef] = Field(default_factory=list)
    contracts_directory: str = "."

    handlers: list[ModelHandlerConfig] = Field(default_factory=list)
    event_bus: ModelEventBusConfig = Field(default_factory=ModelEventBusConfig)

    health_endpoint: ModelHealthEndpointConfig = Field(default_factory=ModelHealthEndpointConfig)
    metrics_endpoint: ModelMetricsEndpointConfig = Field(default_factory=ModelMetricsEndpointConfig)

    max_concurrent_operations: int = Field(default=100, ge=1)
    shutdown_timeout_seconds: float = Field(default=30, gt=0)

    @field_validator("nodes")
    @classmethod
    def _unique_slugs(cls, nodes: list[ModelNodeRef]) -> list[ModelNodeRef]:
        twice = _first_repeat(node.slug for node in nodes)
        if twice is not None:
            raise ValueError(f"node slug {twice!r} is declared twice")
        return nodes

    @field_validator("handlers")
    @classmethod
    def _unique_handlers(cls, handlers: list[ModelHandlerConfig]) -> list[ModelHandlerConfig]:
        twice = _first_repeat(handler.handler_type.value for handler in handlers)
        if twice is not None:
            raise ValueError(f"handler type {twice!r} is configured twice")
        return handlers

    @model_validator(mode="after")
    def _local_handler_is_dev_only(self) -> ModelRuntimeHostContract:
        if self.environment in ("production", "staging") and any(
            h.handler_type is EnumHandlerType.LOCAL and h.enabled for h in self.handlers
        ):
            raise ValueError(
                f"the local handler is dev/test only and cannot be enabled in a {self.environment} contract"
            )
        return self

    def enabled_handlers(self) -> list[ModelHandlerConfig]:
        return [h for h in self.handlers if h.enabled]


class ModelOperationSpec(_Strict):
    """One operation a node accepts, and how its handler should perform it.

    ``action`` is the handler-level verb (``query``, ``get_secret``, ``echo``);
    it defaults to the operation's own name. ``params`` are fixed by the
    contract (a named SQL statement, a URL) and cannot be overridden by an
    envelope, which is what keeps the command topic within the contract.
    """

    handler_type: EnumHandlerType
    action: str | None = None
    description: str = ""
    side_effects: EnumSideEffects = EnumSideEffects.EXTERNAL
    params: dict[str, Any] = Field(default_factory=dict)


class ModelNodeContract(_Strict):
    """A node hosted by the runtime: identity plus the operations it accepts."""

    name: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    node_kind: EnumNodeKind = EnumNodeKind.EFFECT
    version: str = "1.0.0"
    description: str = ""
    operations: dict[str, ModelOperationSpec] = Field(min_length=1)
    config: dict[str, Any] = Field(default_factory=dict)
