"""The one place where an exception becomes an error reply.

Every layer that calls code which may raise on behalf of an envelope (a
handler's action, the runtime calling a handler, a bus calling the runtime)
turns the exception into a reply here, so the mapping is the same wherever
it happens:

* ``OperationError``: its own code, message and details (a user-visible
  condition the raiser described).
* ``TimeoutError``: ``timeout``.
* anything else: a bug. Logged with the correlation id and answered with
  ``internal_error``, whose text names only the exception type: exception
  messages of client libraries can carry URLs, DSNs and tokens, and replies
  leave the host.
"""

from __future__ import annotations

import logging

from onex_host.core.enums import EnumErrorCode
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.errors import OperationError

logger = logging.getLogger(__name__)


def reply_for_exception(envelope: ModelOnexEnvelope, exc: BaseException, *, where: str) -> ModelOnexEnvelope:
    """The error reply for ``exc`` raised by ``where`` (e.g. ``"db handler query"``) while serving ``envelope``."""
    if isinstance(exc, OperationError):
        return envelope.reply_error(exc.code, exc.message, exc.details)
    if isinstance(exc, TimeoutError):
        return envelope.reply_error(EnumErrorCode.TIMEOUT, f"{where} did not finish in time")
    logger.error(
        "%s raised instead of replying",
        where,
        exc_info=exc,
        extra={"correlation_id": str(envelope.correlation_id)},
    )
    return envelope.reply_error(
        EnumErrorCode.INTERNAL_ERROR,
        f"{where} failed unexpectedly ({type(exc).__name__}); "
        f"see host logs for correlation_id {envelope.correlation_id}",
    )


def reply_wire(request: ModelOnexEnvelope, reply: ModelOnexEnvelope) -> bytes:
    """The reply's wire bytes; a reply that cannot be encoded becomes an ``internal_error`` reply instead.

    ``payload`` accepts any value at construction, so a handler that returns a
    value JSON cannot carry (a set, bytes, a float NaN is fine, a nesting too
    deep to encode) fails only here, when the reply is encoded. The caller
    still gets an answer, and the log says why.
    """
    try:
        return reply.to_wire()
    except (ValueError, TypeError, RecursionError) as exc:  # pydantic_core.PydanticSerializationError is a ValueError
        where = f"encoding the reply of {request.operation!r}"
        return reply_for_exception(request, exc, where=where).to_wire()
