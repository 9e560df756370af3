"""How httpx failures and HTTP statuses become error codes, for every httpx-based handler.

The split matters for retries: an upstream that is down, overloaded or slow
(``upstream_unavailable``, ``timeout``) may answer the same request later; a
refusal (``upstream_error``, ``forbidden``, ``not_found``) will not.
"""

from __future__ import annotations

from typing import Any

import httpx

from onex_host.core.enums import EnumErrorCode
from onex_host.core.errors import OperationError

_RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def transport_failure(exc: httpx.HTTPError, upstream: str) -> OperationError:
    """The error reply for an exception httpx raised while talking to ``upstream``."""
    if isinstance(exc, httpx.TimeoutException):
        return OperationError(EnumErrorCode.TIMEOUT, f"{upstream} did not answer in time ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError):
        return OperationError(
            EnumErrorCode.UPSTREAM_UNAVAILABLE, f"{upstream} is unreachable: {type(exc).__name__}: {exc}"
        )
    return OperationError(EnumErrorCode.UPSTREAM_ERROR, f"{upstream} request failed: {type(exc).__name__}: {exc}")


def status_failure(response: httpx.Response, upstream: str, detail: str = "") -> OperationError:
    """The error reply for a non-2xx answer; ``detail`` is the upstream's own reason, if any."""
    status = response.status_code
    if status in _RETRYABLE_STATUSES:
        code = EnumErrorCode.UPSTREAM_UNAVAILABLE
    elif status in (401, 403):
        code = EnumErrorCode.FORBIDDEN
    elif status == 404:
        code = EnumErrorCode.NOT_FOUND
    else:
        code = EnumErrorCode.UPSTREAM_ERROR
    reason = f": {detail}" if detail else ""
    details: dict[str, Any] = {"status": status}
    return OperationError(code, f"{upstream} answered {status} {response.reason_phrase}{reason}", details)
