"""``ProtocolHandler``: one per-request operation, request in, reply out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from onex_host.core.contracts import ModelOperationSpec
from onex_host.core.enums import EnumHandlerType
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.operation import ModelHandlerHealth, OperationContext


@runtime_checkable
class ProtocolHandler(Protocol):
    """Executes the operations of one ``EnumHandlerType``.

    Contract for implementers:

    * ``execute`` always returns a reply envelope built from the request
      (``reply_success``/``reply_error``); it never raises for anything a
      request can cause, including being called before ``initialize``.
    * A handler is constructed with its parsed config (by the wiring
      registry, once); ``initialize`` opens clients and pools without needing
      the upstream to be reachable. ``initialize`` and ``shutdown`` are
      idempotent.
    * ``health_check`` never raises and never reports a secret.
    """

    @property
    def handler_type(self) -> EnumHandlerType: ...

    async def initialize(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def execute(self, envelope: ModelOnexEnvelope, context: OperationContext) -> ModelOnexEnvelope: ...

    async def health_check(self) -> ModelHandlerHealth: ...

    def validate_operation(self, operation: str, spec: ModelOperationSpec) -> str | None:
        """Why a node contract's operation cannot run on this handler, or None if it can."""
        ...
