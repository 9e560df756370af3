"""What every event bus shares: its typed ``mode`` and where a reply goes.

Both buses parse their ``event_bus.config`` into a subclass of ``BusConfig``,
so ``mode`` is read from one typed field (by the bus and by the process that
labels metrics and builds a shadow runtime), never from an untyped dict.

``reply_destination`` is the one rule for a reply's destination, used by the
memory bus and by the Kafka bus's outcome decision alike: a shadow host
answers only on its own response destination, because a caller's
``reply_to`` belongs to the primary deployment it shadows; and a primary
honours ``reply_to`` only when the bus's ``refuse`` rule has nothing against
it (the Kafka bus allows only the topics its contract lists). A refused
``reply_to`` is reported, not silently replaced, so the bus can dead-letter
the command with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.immutable import immutable

BusMode = Literal["primary", "shadow"]
Delivery = Literal["at_least_once", "exactly_once"]


class BusConfig(BaseModel):
    """Fields common to every bus's ``event_bus.config``; unknown keys are contract errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: BusMode = "primary"
    delivery: Delivery = Field(
        default="at_least_once",
        description="at_least_once: a command may be answered twice after a crash or a rebalance, never lost. "
        "exactly_once: replies, dead letters and consumed offsets are committed in one Kafka transaction, so a "
        "read_committed reader sees each command answered once (docs/architecture.md, 'Delivery').",
    )


@immutable
class ReplyRoute:
    """Where a reply goes; ``refused`` says why the request's ``reply_to`` was not honoured."""

    topic: str
    refused: str | None = None


def _allow_any(_topic: str) -> str | None:
    return None


def reply_destination(
    request: ModelOnexEnvelope,
    *,
    mode: BusMode,
    default: str,
    refuse: Callable[[str], str | None] = _allow_any,
) -> ReplyRoute:
    """The request's ``metadata.reply_to`` in primary mode when it names one ``refuse`` accepts, else ``default``."""
    reply_to = request.metadata.get("reply_to")
    if mode != "primary" or reply_to is None or reply_to == "":
        return ReplyRoute(default)
    if not isinstance(reply_to, str):
        return ReplyRoute(default, "reply_to is not a string")
    problem = refuse(reply_to)
    if problem is not None:
        return ReplyRoute(default, problem)
    return ReplyRoute(reply_to)
