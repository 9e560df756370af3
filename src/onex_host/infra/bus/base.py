"""What every event bus shares: its typed ``mode`` and where a reply goes.

Both buses parse their ``event_bus.config`` into a subclass of ``BusConfig``,
so ``mode`` is read from one typed field (by the bus and by the process that
labels metrics and builds a shadow runtime), never from an untyped dict.

``reply_destination`` is the one rule for a reply's destination, used by the
memory bus and by the Kafka bus's outcome decision alike: a shadow host
answers only on its own response destination, because a caller's
``reply_to`` belongs to the primary deployment it shadows.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from onex_host.core.envelope import ModelOnexEnvelope

BusMode = Literal["primary", "shadow"]


class BusConfig(BaseModel):
    """Fields common to every bus's ``event_bus.config``; unknown keys are contract errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: BusMode = "primary"


def reply_destination(request: ModelOnexEnvelope, *, mode: BusMode, default: str) -> str:
    """The request's ``metadata.reply_to`` in primary mode when it names one, else ``default``."""
    reply_to = request.metadata.get("reply_to")
    if mode == "primary" and isinstance(reply_to, str) and reply_to:
        return reply_to
    return default
