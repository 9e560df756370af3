"""What the httpx-based handlers (http, consul, llm) share: the client's lifecycle and error mapping.

``HttpxHandler`` opens one ``httpx.AsyncClient`` per handler (never reading
proxies or netrc from the environment: a proxy would bypass allow-lists, and
credentials must come from the contract), closes it, and maps httpx's
exceptions to error replies once.

How failures become error codes matters for retries: an upstream that is
down, overloaded or slow (``upstream_unavailable``, ``timeout``) may answer
the same request later; a refusal (``upstream_error``, ``forbidden``,
``not_found``) will not.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import BaseModel

from onex_host.core.enums import EnumErrorCode
from onex_host.core.errors import OperationError
from onex_host.infra.handlers.base import BaseHandler

ConfigT = TypeVar("ConfigT", bound=BaseModel)

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


class HttpxHandler(BaseHandler[ConfigT]):
    """A handler whose upstream speaks HTTP through one shared ``httpx.AsyncClient``."""

    upstream_name: ClassVar[str]
    """How error replies name the upstream ("Consul", "LLM API")."""

    def __init__(self, config: ConfigT | None = None) -> None:
        super().__init__(config)
        self._client: httpx.AsyncClient | None = None

    def client_options(self, config: ConfigT) -> dict[str, Any]:
        """Keyword arguments for ``httpx.AsyncClient`` (base URL, headers, timeout, limits)."""
        return {}

    async def _open(self, config: ConfigT) -> None:
        self._client = httpx.AsyncClient(trust_env=False, **self.client_options(config))

    async def _close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        return self._require(self._client)

    def translate_error(self, exc: Exception) -> OperationError | None:
        if isinstance(exc, httpx.HTTPError):
            return transport_failure(exc, self.upstream_name)
        return None
