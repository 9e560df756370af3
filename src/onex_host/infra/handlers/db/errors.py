"""How asyncpg's exceptions become error replies, and which ones mean "the connection is gone".

The split matters twice: for retries (a dropped connection or a server
shutting down may serve the same request later; a constraint violation will
not) and for the handler's one reconnect, which is safe only for failures
that prove nothing reached the server or the operation is read-only.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from onex_host.core.enums import EnumErrorCode
from onex_host.core.errors import OperationError

_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57P01", "57P02", "57P03", "40001", "40P01")
CONNECTION_LOST: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,  # 08xxx, including "connection does not exist"
    asyncpg.exceptions.AdminShutdownError,  # 57P01: pg_terminate_backend, server shutdown
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: server starting up
    asyncpg.InterfaceError,  # "connection is closed" and friends
    asyncpg.exceptions.InternalClientError,  # protocol state left behind by a dropped connection
    OSError,  # refused, reset
)


def is_bad_argument(exc: Exception) -> bool:
    """Whether asyncpg refused to encode an argument, before anything reached the server.

    asyncpg reports that as a ``DataError`` chained to the codec's exception
    (server-side data errors are never chained), or as its client-side
    ``DataError``, which is both an ``InterfaceError`` and a ``ValueError``.
    """
    if isinstance(exc, asyncpg.exceptions.DataError):
        return exc.__cause__ is not None
    return isinstance(exc, asyncpg.InterfaceError) and isinstance(exc, ValueError)


def postgres_failure(exc: asyncpg.PostgresError) -> OperationError:
    """An error reply carrying the SQLSTATE and the server's own explanation."""
    sqlstate: str = exc.sqlstate or ""
    code: EnumErrorCode
    if sqlstate.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES):
        code = EnumErrorCode.UPSTREAM_UNAVAILABLE
    elif sqlstate == "57014":  # query_canceled: the statement timeout fired on the server
        code = EnumErrorCode.TIMEOUT
    elif sqlstate.startswith(("28", "42501")):
        code = EnumErrorCode.FORBIDDEN
    elif sqlstate.startswith("22"):
        code = EnumErrorCode.INVALID_PAYLOAD
    else:
        code = EnumErrorCode.UPSTREAM_ERROR
    fields = exc.as_dict()
    details: dict[str, Any] = {
        key: fields[key]
        for key in ("sqlstate", "detail", "hint", "table_name", "column_name", "constraint_name")
        if fields.get(key)
    }
    details["sqlstate"] = sqlstate
    message = fields.get("message") or str(exc)
    return OperationError(code, f"PostgreSQL error {sqlstate} ({type(exc).__name__}): {message}", details)


def connection_failure(exc: Exception) -> OperationError:
    return OperationError(EnumErrorCode.UPSTREAM_UNAVAILABLE, f"PostgreSQL is unreachable: {type(exc).__name__}: {exc}")
