"""Enumerations shared by contracts, envelopes and handlers."""

from __future__ import annotations

from enum import StrEnum


class EnumNodeKind(StrEnum):
    """Kinds of ONEX node; ``RUNTIME_HOST`` is the host itself."""

    EFFECT = "effect"
    COMPUTE = "compute"
    REDUCER = "reducer"
    ORCHESTRATOR = "orchestrator"
    RUNTIME_HOST = "runtime_host"


class EnumHandlerType(StrEnum):
    """Per-request handler kinds.

    Kafka is deliberately absent: it is the transport that feeds envelopes in
    (a ``ProtocolEventBus``), never a per-request ``ProtocolHandler``.
    """

    LOCAL = "local"
    HTTP = "http"
    DB = "db"
    LLM = "llm"
    VAULT = "vault"
    CONSUL = "consul"


class EnumSideEffects(StrEnum):
    """What running an operation does to the outside world.

    Shadow hosts execute only ``NONE`` operations, so a shadow never repeats a
    write that the primary deployment already made.
    """

    NONE = "none"
    IDEMPOTENT = "idempotent"
    EXTERNAL = "external"


class EnumErrorCode(StrEnum):
    """Machine-readable reason carried by every error reply."""

    INVALID_ENVELOPE = "invalid_envelope"
    UNKNOWN_NODE = "unknown_node"
    UNKNOWN_OPERATION = "unknown_operation"
    HANDLER_MISMATCH = "handler_mismatch"
    HANDLER_UNAVAILABLE = "handler_unavailable"
    NOT_INITIALIZED = "not_initialized"
    INVALID_PAYLOAD = "invalid_payload"
    FORBIDDEN = "forbidden"
    EXPIRED = "expired"
    TIMEOUT = "timeout"
    UPSTREAM_ERROR = "upstream_error"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    NOT_FOUND = "not_found"
    SHADOW_SKIPPED = "shadow_skipped"
    INTERNAL_ERROR = "internal_error"


RETRYABLE_ERROR_CODES: frozenset[EnumErrorCode] = frozenset(
    {EnumErrorCode.TIMEOUT, EnumErrorCode.UPSTREAM_UNAVAILABLE, EnumErrorCode.INTERNAL_ERROR}
)
"""Error codes worth retrying: the same request may succeed later. Everything
else is a property of the request itself and fails the same way every time."""
