"""What a handler is told about the operation it runs, beyond the envelope."""

from __future__ import annotations

import time
from dataclasses import field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from onex_host.core.contracts import ModelOperationSpec
from onex_host.core.enums import EnumHandlerType
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.immutable import immutable


@immutable
class OperationContext:
    """The contract-side half of a request: the node, the declared operation, the deadline.

    ``deadline`` is on the ``time.monotonic`` clock; handlers pass ``timeout()``
    down to their client (HTTP timeout, statement timeout) so a request never
    outlives the envelope's TTL.

    ``envelope`` is the request being served, for the few actions that need
    its identity rather than its payload (the db handler keys writes by
    ``envelope_id``); the runtime sets it, and ``BaseHandler.execute`` fills
    it in for a caller that did not.
    """

    node_slug: str
    operation: str
    spec: ModelOperationSpec
    deadline: float | None = None
    node_config: dict[str, Any] = field(default_factory=dict)
    envelope: ModelOnexEnvelope | None = None

    @property
    def action(self) -> str:
        return self.spec.action or self.operation

    def remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()

    def timeout(self, default: float) -> float:
        """The handler's own timeout, shortened to what the envelope's TTL leaves."""
        remaining = self.remaining()
        if remaining is None:
            return default
        return max(0.001, min(default, remaining))


class ModelHandlerHealth(BaseModel):
    """Health of one handler. ``details`` is shown on ``/health``: never put a secret in it."""

    model_config = ConfigDict(frozen=True)

    handler_type: EnumHandlerType
    healthy: bool
    details: dict[str, Any] = Field(default_factory=dict)


class ModelBusHealth(BaseModel):
    """Liveness means the bus is making progress; readiness means it can take work now."""

    model_config = ConfigDict(frozen=True)

    bus_type: str
    live: bool
    ready: bool
    details: dict[str, Any] = Field(default_factory=dict)
