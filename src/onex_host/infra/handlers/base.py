"""The one place where handler outcomes become reply envelopes.

Handlers subclass ``BaseHandler`` and write actions that return a payload or
raise ``OperationError``; lifecycle guards, payload validation, timeouts and
unexpected exceptions are handled here once, for every handler.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from onex_host.core.contracts import ModelOperationSpec
from onex_host.core.enums import EnumErrorCode, EnumHandlerType
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.errors import ContractError, OperationError
from onex_host.core.loader import describe_error, format_location, validation_problems
from onex_host.core.operation import ModelHandlerHealth, OperationContext

logger = logging.getLogger(__name__)

ConfigT = TypeVar("ConfigT", bound=BaseModel)
PayloadT = TypeVar("PayloadT", bound=BaseModel)
HandlerT = TypeVar("HandlerT", bound="BaseHandler[Any]")
ActionFn = Callable[[Any, ModelOnexEnvelope, OperationContext], Awaitable[dict[str, Any]]]

_ACTION_ATTR = "__onex_action__"


class HandlerConfigModel(BaseModel):
    """Base for per-handler config models: unknown keys are errors, not ignored."""

    model_config = ConfigDict(extra="forbid")


class PayloadModel(BaseModel):
    """Base for per-action payload models."""

    model_config = ConfigDict(extra="forbid")


def action(name: str) -> Callable[[ActionFn], ActionFn]:
    """Mark a coroutine method as the implementation of handler action ``name``."""

    def mark(fn: ActionFn) -> ActionFn:
        setattr(fn, _ACTION_ATTR, name)
        return fn

    return mark


def parse_payload(model: type[PayloadT], payload: Mapping[str, Any]) -> PayloadT:
    """Validate a request payload; a problem becomes an ``invalid_payload`` reply naming the field."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"payload.{format_location(e['loc'])}: {describe_error(e)}" if e["loc"] else f"payload: {describe_error(e)}"
            for e in exc.errors()
        )
        raise OperationError(EnumErrorCode.INVALID_PAYLOAD, problems) from None


class BaseHandler(ABC, Generic[ConfigT]):
    """Template for ``ProtocolHandler`` implementations (see ``onex_host.spi``)."""

    handler_type: ClassVar[EnumHandlerType]
    config_model: ClassVar[type[BaseModel]]
    _actions: ClassVar[dict[str, ActionFn]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        actions: dict[str, ActionFn] = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                name = getattr(attr, _ACTION_ATTR, None)
                if name is not None:
                    actions[name] = attr
        cls._actions = actions

    def __init__(self) -> None:
        self._config: ConfigT | None = None
        self._lifecycle = asyncio.Lock()

    # -- config ---------------------------------------------------------------------

    @classmethod
    def parse_config(cls, config: Mapping[str, Any], source: str = "(handler config)") -> ConfigT:
        """Validate handler config; raises ``ContractError`` with one line per problem."""
        try:
            return cast(ConfigT, cls.config_model.model_validate(dict(config)))
        except ValidationError as exc:
            raise ContractError(validation_problems(source, exc)) from None

    @property
    def config(self) -> ConfigT:
        if self._config is None:
            raise OperationError(EnumErrorCode.NOT_INITIALIZED, f"{self.handler_type.value} handler is not initialized")
        return self._config

    @property
    def initialized(self) -> bool:
        return self._config is not None

    # -- lifecycle --------------------------------------------------------------------

    async def initialize(self, config: Mapping[str, Any]) -> None:
        async with self._lifecycle:
            if self._config is not None:
                return
            parsed = self.parse_config(config)
            await self._open(parsed)
            self._config = parsed

    async def shutdown(self) -> None:
        async with self._lifecycle:
            if self._config is None:
                return
            try:
                await self._close()
            finally:
                self._config = None

    async def _open(self, config: ConfigT) -> None:
        """Create clients and pools. Must not require the upstream to be reachable."""

    async def _close(self) -> None:
        """Release what ``_open`` created."""

    # -- execution ----------------------------------------------------------------------

    def validate_operation(self, operation: str, spec: ModelOperationSpec) -> str | None:
        name = spec.action or operation
        if name not in self._actions:
            known = ", ".join(sorted(self._actions))
            return f"{self.handler_type.value} handler has no action {name!r} (known: {known})"
        return None

    async def execute(self, envelope: ModelOnexEnvelope, context: OperationContext) -> ModelOnexEnvelope:
        if self._config is None:
            return envelope.reply_error(
                EnumErrorCode.NOT_INITIALIZED, f"{self.handler_type.value} handler is not initialized"
            )
        fn = self._actions.get(context.action)
        if fn is None:
            return envelope.reply_error(
                EnumErrorCode.UNKNOWN_OPERATION,
                f"{self.handler_type.value} handler has no action {context.action!r}",
            )
        try:
            return envelope.reply_success(await fn(self, envelope, context))
        except OperationError as exc:
            return envelope.reply_error(exc.code, exc.message, exc.details)
        except TimeoutError:
            return envelope.reply_error(EnumErrorCode.TIMEOUT, f"{self.handler_type.value} {context.action} timed out")
        except Exception as exc:  # a handler bug must never take the host down
            translated = self.translate_error(exc)
            if translated is not None:
                return envelope.reply_error(translated.code, translated.message, translated.details)
            logger.exception(
                "handler raised",
                extra={"correlation_id": str(envelope.correlation_id), "handler": self.handler_type.value},
            )
            return envelope.reply_error(
                EnumErrorCode.INTERNAL_ERROR,
                f"{self.handler_type.value} handler failed unexpectedly ({type(exc).__name__}); "
                f"see host logs for correlation_id {envelope.correlation_id}",
            )

    async def health_check(self) -> ModelHandlerHealth:
        if self._config is None:
            return ModelHandlerHealth(
                handler_type=self.handler_type, healthy=False, details={"error": "not initialized"}
            )
        try:
            details = await self._probe()
        except Exception as exc:
            return ModelHandlerHealth(
                handler_type=self.handler_type, healthy=False, details={"error": self.describe_failure(exc)}
            )
        return ModelHandlerHealth(handler_type=self.handler_type, healthy=True, details=details)

    @abstractmethod
    async def _probe(self) -> dict[str, Any]:
        """Check the upstream; return non-secret details, raise if unhealthy."""

    def translate_error(self, exc: Exception) -> OperationError | None:
        """Map a client library's exception to an error reply, once per handler.

        Return None for anything that is not an expected upstream condition:
        it is then logged as a bug and answered with ``internal_error``.
        """
        return None

    def describe_failure(self, exc: BaseException) -> str:
        """A failure description safe to publish: exception type and message, no config."""
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


__all__ = [
    "BaseHandler",
    "HandlerConfigModel",
    "OperationError",
    "PayloadModel",
    "action",
    "parse_payload",
]
