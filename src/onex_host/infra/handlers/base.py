"""The handler framework: what every ``ProtocolHandler`` shares, written once.

A handler declares its actions, each with the payload model it accepts::

    @action("kv_get", payload=KvGetPayload)
    async def _kv_get(self, request: KvGetPayload, context: OperationContext) -> dict[str, Any]: ...

and this base does the rest, the same way for every handler:

* at load, ``validate_operation`` checks a node contract's operation against
  the declarations: the action exists, every ``params`` key is either a
  contract-only key (``contract_keys``) or a payload field to pin, then the
  handler's own ``check_params``;
* per request, it refuses to run before ``initialize``, applies the pinned
  params (an envelope may not override them), validates the payload into the
  action's model and calls the action with the typed request;
* whatever the action raises becomes a reply through
  ``translate_error`` (the client library's exceptions, mapped once per
  handler) and ``onex_host.core.replies.reply_for_exception``.

A handler is constructed with its parsed config (the wiring registry parses
each handler's config once, at load), so load-time checks can read it too.
"""

from __future__ import annotations

import asyncio
import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from onex_host.core.contracts import ModelOperationSpec
from onex_host.core.enums import EnumErrorCode, EnumHandlerType
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.errors import ContractError, OperationError
from onex_host.core.loader import validation_problems
from onex_host.core.operation import ModelHandlerHealth, OperationContext
from onex_host.core.replies import reply_for_exception
from onex_host.infra.handlers._params import apply_pinned, parse_payload, unknown_params

ConfigT = TypeVar("ConfigT", bound=BaseModel)
T = TypeVar("T")
ActionFn = Callable[[Any, Any, OperationContext], Awaitable[dict[str, Any]]]

_ACTION_ATTR = "__onex_action__"


class HandlerConfigModel(BaseModel):
    """Base for per-handler config models: unknown keys are errors, not ignored."""

    model_config = ConfigDict(extra="forbid")


class PayloadModel(BaseModel):
    """Base for per-action payload models."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One declared action: its name, the payload model it takes (None: the raw payload), its method."""

    name: str
    payload: type[BaseModel] | None
    fn: ActionFn


def action(name: str, *, payload: type[BaseModel] | None = None) -> Callable[[ActionFn], ActionFn]:
    """Declare a coroutine method as handler action ``name``.

    The method is called as ``fn(self, request, context)`` where ``request``
    is the envelope payload (with the contract's pinned params applied)
    validated into ``payload``; with ``payload=None`` it gets that dict as is.
    """

    def mark(fn: ActionFn) -> ActionFn:
        setattr(fn, _ACTION_ATTR, ActionSpec(name, payload, fn))
        return fn

    return mark


class BaseHandler(ABC, Generic[ConfigT]):
    """Template for ``ProtocolHandler`` implementations (see ``onex_host.spi``)."""

    handler_type: ClassVar[EnumHandlerType]
    config_model: ClassVar[type[BaseModel]]
    contract_keys: ClassVar[frozenset[str]] = frozenset()
    """``params`` keys the handler reads itself (a SQL statement, a base URL); no payload may name them."""
    _actions: ClassVar[dict[str, ActionSpec]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        actions: dict[str, ActionSpec] = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                spec = getattr(attr, _ACTION_ATTR, None)
                if isinstance(spec, ActionSpec):
                    actions[spec.name] = spec
        cls._actions = actions

    def __init__(self, config: ConfigT | None = None) -> None:
        """``config`` is the parsed config; None means the config model's defaults."""
        self._config: ConfigT = config if config is not None else cast(ConfigT, self.config_model())
        self._opened = False
        self._lifecycle = asyncio.Lock()

    @classmethod
    def parse_config(cls, config: Mapping[str, Any], source: str = "(handler config)") -> ConfigT:
        """Validate handler config; raises ``ContractError`` with one line per problem."""
        try:
            return cast(ConfigT, cls.config_model.model_validate(dict(config)))
        except ValidationError as exc:
            raise ContractError(validation_problems(source, exc)) from None

    @classmethod
    def from_config(cls, config: Mapping[str, Any], source: str = "(handler config)") -> Self:
        """A handler for an unparsed config mapping (tests, tools); the host goes through the wiring registry."""
        return cls(cls.parse_config(config, source))

    @property
    def config(self) -> ConfigT:
        return self._config

    @property
    def initialized(self) -> bool:
        return self._opened

    @classmethod
    def actions(cls) -> Mapping[str, ActionSpec]:
        return cls._actions

    # -- lifecycle --------------------------------------------------------------------

    async def initialize(self) -> None:
        async with self._lifecycle:
            if self._opened:
                return
            await self._open(self._config)
            self._opened = True

    async def shutdown(self) -> None:
        async with self._lifecycle:
            if not self._opened:
                return
            try:
                await self._close()
            finally:
                self._opened = False

    async def _open(self, config: ConfigT) -> None:
        """Create clients and pools. Must not require the upstream to be reachable."""

    async def _close(self) -> None:
        """Release what ``_open`` created."""

    def _require(self, resource: T | None) -> T:
        """A client or pool made by ``_open``: the one "not initialized" guard of every handler."""
        if resource is None or not self._opened:
            raise OperationError(EnumErrorCode.NOT_INITIALIZED, f"{self.handler_type.value} handler is not initialized")
        return resource

    # -- load-time checks ---------------------------------------------------------------

    def validate_operation(self, operation: str, spec: ModelOperationSpec) -> str | None:
        name = spec.action or operation
        declared = self._actions.get(name)
        if declared is None:
            known = ", ".join(sorted(self._actions))
            return f"{self.handler_type.value} handler has no action {name!r} (known: {known})"
        if declared.payload is not None:
            problem = unknown_params(spec, declared.payload, self.contract_keys)
            if problem:
                return problem
        return self.check_params(name, spec)

    def check_params(self, action: str, spec: ModelOperationSpec) -> str | None:
        """Handler-specific checks of an operation's ``params`` (URLs, paths, SQL), or None if fine."""
        return None

    # -- execution ----------------------------------------------------------------------

    async def execute(self, envelope: ModelOnexEnvelope, context: OperationContext) -> ModelOnexEnvelope:
        if not self._opened:
            return envelope.reply_error(
                EnumErrorCode.NOT_INITIALIZED, f"{self.handler_type.value} handler is not initialized"
            )
        declared = self._actions.get(context.action)
        if declared is None:
            return envelope.reply_error(
                EnumErrorCode.UNKNOWN_OPERATION,
                f"{self.handler_type.value} handler has no action {context.action!r}",
            )
        if context.envelope is None:
            context = dataclasses.replace(context, envelope=envelope)
        try:
            request = self._request(declared, envelope, context)
            return envelope.reply_success(await declared.fn(self, request, context))
        except Exception as exc:  # a handler bug must never take the host down
            if not isinstance(exc, OperationError | TimeoutError):
                exc = self.translate_error(exc) or exc
            return reply_for_exception(
                envelope, exc, where=f"{context.action} on the {self.handler_type.value} handler"
            )

    def _request(self, declared: ActionSpec, envelope: ModelOnexEnvelope, context: OperationContext) -> Any:
        """The payload with the contract's pinned params applied, validated into the action's model."""
        pinned = {key: value for key, value in context.spec.params.items() if key not in self.contract_keys}
        payload = apply_pinned(envelope.payload, pinned, context.operation)
        return payload if declared.payload is None else parse_payload(declared.payload, payload)

    def translate_error(self, exc: Exception) -> OperationError | None:
        """Map a client library's exception to an error reply, once per handler.

        Return None for anything that is not an expected upstream condition:
        it is then logged as a bug and answered with ``internal_error``.
        """
        return None

    # -- health -------------------------------------------------------------------------

    async def health_check(self) -> ModelHandlerHealth:
        if not self._opened:
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

    def describe_failure(self, exc: BaseException) -> str:
        """A failure description safe to publish: exception type and message, no config."""
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


__all__ = [
    "ActionSpec",
    "BaseHandler",
    "HandlerConfigModel",
    "OperationError",
    "PayloadModel",
    "action",
    "parse_payload",
]
