"""``HttpHandler``: one outbound HTTP request per envelope, through httpx.

A reply carries the upstream's status, headers and body whatever the status:
a 404 or a 500 is an answer the caller asked for, not a handler failure.
Only a request that could not be made or read (refused host, unreachable
server, timeout, oversized body) is an error reply.

Anyone who can write to the command topic can ask for a request, so:

* hosts are denied unless ``allowed_hosts`` names them (``"*"`` allows every
  host, explicitly), and redirects are followed by hand, one hop at a time, so
  the list is checked before every connection, not only the first;
* a payload cannot set ``Host`` or hop-by-hop headers (virtual-host bypass
  behind an allowed name, request smuggling), and on a redirect to another
  origin every header the payload or the contract set is dropped, so a pinned
  credential (``X-Api-Key``) never reaches a host it was not meant for;
* a payload's ``timeout_seconds`` can only shorten the config's timeout;
* a ``path`` under a pinned ``base_url`` is checked after percent-decoding,
  so ``%2e%2e`` climbs no more than ``..`` does;
* the body is decoded with a cap on the decoded bytes (``_decoding``), and
  JSON nested deeper than ``MAX_JSON_DEPTH`` comes back as text;
* the reply's ``url`` carries no userinfo and no query, which may hold
  credentials from the contract.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import zlib
from typing import Any, Literal

import httpx
from pydantic import Field, JsonValue, field_validator, model_validator

from onex_host.core.contracts import ModelOperationSpec
from onex_host.core.enums import EnumErrorCode, EnumHandlerType
from onex_host.core.errors import OperationError
from onex_host.core.operation import OperationContext
from onex_host.infra.handlers._decoding import ACCEPT_ENCODING, BodyTooLarge, BoundedDecoder, UnsupportedEncoding
from onex_host.infra.handlers._host_allowlist import HostAllowlist, HostRules
from onex_host.infra.handlers._httpx import HttpxHandler
from onex_host.infra.handlers._paths import fully_unquoted
from onex_host.infra.handlers._urls import http_url_problem
from onex_host.infra.handlers.base import HandlerConfigModel, PayloadModel, action

HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
QueryValue = str | int | float | bool
MAX_JSON_DEPTH = 64
"""Upstream JSON nested deeper than this is returned as text: replies must stay encodable."""

_HOP_BY_HOP = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "accept-encoding",
    }
)
"""Headers the handler owns: the target host, the connection, framing and the encodings it can decode."""
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field-name


class HttpHandlerConfig(HandlerConfigModel):
    timeout_seconds: float = Field(default=30.0, gt=0, description="Also the upper bound of a payload's timeout.")
    allowed_hosts: HostRules = Field(
        default_factory=list,
        description="Hosts a request may reach (each redirect hop too); every other host is refused before "
        'connecting. Empty (the default) refuses all; "*" allows every host.',
    )
    max_response_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    max_connections: int = Field(default=100, ge=1)


class HttpRequestPayload(PayloadModel):
    method: HttpMethod = "GET"
    url: str | None = Field(
        default=None, description="Absolute http(s) URL; not allowed when the contract pins base_url."
    )
    path: str | None = Field(default=None, description="Path under the contract's base_url.")
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, QueryValue | list[QueryValue]] = Field(default_factory=dict)
    json_body: JsonValue = Field(default=None, alias="json")
    body: str | None = Field(default=None, description="Raw request body, sent as UTF-8.")
    body_base64: str | None = Field(default=None, description="Raw binary request body, base64-encoded.")
    timeout_seconds: float | None = Field(default=None, gt=0)
    follow_redirects: bool = True

    @field_validator("headers")
    @classmethod
    def _request_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _TOKEN.match(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP field name")
            if name.lower() in _HOP_BY_HOP:
                raise ValueError(f"header {name!r} is set by the handler, not by a payload")
            if value != value.strip() or any(ord(char) < 32 or ord(char) == 127 for char in value):
                raise ValueError(f"header {name!r}: the value has surrounding whitespace or control characters")
        return headers

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, method: Any) -> Any:
        return method.upper() if isinstance(method, str) else method

    @model_validator(mode="after")
    def _one_body(self) -> HttpRequestPayload:
        given = [name for name in ("json_body", "body", "body_base64") if name in self.model_fields_set]
        if len(given) > 1:
            names = ", ".join("json" if name == "json_body" else name for name in given)
            raise ValueError(f"give at most one of json, body, body_base64 (got {names})")
        return self

    @property
    def sends_json(self) -> bool:
        return "json_body" in self.model_fields_set


class HttpHandler(HttpxHandler[HttpHandlerConfig]):
    handler_type = EnumHandlerType.HTTP
    config_model = HttpHandlerConfig
    contract_keys = frozenset({"base_url"})
    upstream_name = "HTTP upstream"

    def __init__(self, config: HttpHandlerConfig | None = None) -> None:
        super().__init__(config)
        self._allowlist = HostAllowlist(self.config.allowed_hosts)

    def client_options(self, config: HttpHandlerConfig) -> dict[str, Any]:
        return {
            "timeout": config.timeout_seconds,
            "follow_redirects": False,  # hops are followed in _send so each one is checked
            "limits": httpx.Limits(max_connections=config.max_connections),
        }

    async def _probe(self) -> dict[str, Any]:
        config = self.config
        return {
            "allowed_hosts": "any" if self._allowlist.allows_all else len(config.allowed_hosts),
            "timeout_seconds": config.timeout_seconds,
        }

    def check_params(self, action: str, spec: ModelOperationSpec) -> str | None:
        base_url = spec.params.get("base_url")
        if base_url is not None and not _is_http_url(base_url):
            return f"params.base_url: {base_url!r} is not an absolute http(s) URL"
        return None

    @action("request", payload=HttpRequestPayload)
    async def _send_request(self, request: HttpRequestPayload, context: OperationContext) -> dict[str, Any]:
        """Send the request described by the payload (and the contract's pinned fields)."""
        url = _target_url(request, context.spec.params.get("base_url"))
        ceiling = self.config.timeout_seconds
        timeout = context.timeout(min(request.timeout_seconds or ceiling, ceiling))
        async with asyncio.timeout(timeout):  # one budget for every hop and the body
            return await self._send(request, url, timeout)

    async def _send(self, payload: HttpRequestPayload, url: str, hop_timeout: float) -> dict[str, Any]:
        client = self.client
        request = client.build_request(
            payload.method,
            httpx.URL(url).copy_merge_params(payload.query),  # keeps a query already in the URL
            headers={**payload.headers, "Accept-Encoding": ACCEPT_ENCODING},
            content=_raw_body(payload),
            json=payload.json_body if payload.sends_json else None,
            timeout=hop_timeout,
        )
        origin = _origin(request.url)
        redirects = 0
        while True:
            self._check_host(request.url)
            response = await client.send(request, stream=True)
            try:
                next_request = response.next_request if payload.follow_redirects else None
                if next_request is None:
                    return await self._reply(response)
            finally:
                await response.aclose()
            redirects += 1
            if redirects > self.config.max_redirects:
                raise OperationError(
                    EnumErrorCode.UPSTREAM_ERROR,
                    f"more than max_redirects={self.config.max_redirects} redirects, "
                    f"last to {_safe_url(next_request.url)}",
                )
            if _origin(next_request.url) != origin:
                for name in payload.headers:
                    next_request.headers.pop(name, None)
                for name in ("Authorization", "Cookie", "Proxy-Authorization"):
                    next_request.headers.pop(name, None)
            request = next_request

    def _check_host(self, url: httpx.URL) -> None:
        if url.scheme not in ("http", "https"):
            raise OperationError(EnumErrorCode.FORBIDDEN, f"URL scheme {url.scheme!r} is not allowed (http, https)")
        if not self._allowlist.allows(url):
            raise OperationError(
                EnumErrorCode.FORBIDDEN,
                f"host {url.host!r} (port {url.port or 'default'}) is not in the http handler's allowed_hosts",
                {"host": url.host},
            )

    async def _reply(self, response: httpx.Response) -> dict[str, Any]:
        content = await self._read_limited(response)
        body, encoding = _decode_body(response, content)
        return {
            "status": response.status_code,
            "headers": dict(response.headers),
            "body": body,
            "body_encoding": encoding,
            "url": _safe_url(response.url),
        }

    async def _read_limited(self, response: httpx.Response) -> bytes:
        """Read at most ``max_response_bytes`` of decoded body, bounding every decoding stage."""
        limit = self.config.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(limit, f"declared Content-Length {declared}")
        encoding = response.headers.get("content-encoding", "")
        try:
            decoder = BoundedDecoder(encoding, limit)
            chunks: list[bytes] = []
            async for raw in response.aiter_raw():
                chunks.append(decoder.feed(raw))
            chunks.append(decoder.finish())
        except BodyTooLarge:
            raise _too_large(limit, f"more than {limit} bytes once decoded ({encoding or 'identity'})") from None
        except UnsupportedEncoding as exc:
            raise OperationError(
                EnumErrorCode.UPSTREAM_ERROR, f"the response's Content-Encoding {str(exc)!r} is not supported"
            ) from None
        except zlib.error:
            raise OperationError(
                EnumErrorCode.UPSTREAM_ERROR, f"the response body is not valid {encoding} data"
            ) from None
        return b"".join(chunks)


def _too_large(limit: int, what: str) -> OperationError:
    return OperationError(
        EnumErrorCode.UPSTREAM_ERROR,
        f"response body exceeds max_response_bytes={limit} ({what}); nothing was returned",
        {"max_response_bytes": limit},
    )


def _target_url(payload: HttpRequestPayload, base_url: str | None) -> str:
    if base_url is None:
        if payload.path is not None:
            raise OperationError(
                EnumErrorCode.INVALID_PAYLOAD, "payload.path: only allowed when the node contract pins params.base_url"
            )
        if payload.url is None:
            raise OperationError(EnumErrorCode.INVALID_PAYLOAD, "payload.url: required field is missing")
        if not _is_http_url(payload.url):
            raise OperationError(
                EnumErrorCode.INVALID_PAYLOAD, f"payload.url: {payload.url!r} is not an absolute http(s) URL"
            )
        return payload.url
    if payload.url is not None:
        raise OperationError(
            EnumErrorCode.FORBIDDEN,
            "payload.url: this operation's URL is fixed by the node contract; give path instead",
        )
    path = payload.path or ""
    decoded = fully_unquoted(path)
    segments = decoded.replace("\\", "/").split("/")
    if (
        "://" in decoded
        or decoded.startswith("//")
        or any(segment in (".", "..") for segment in segments)
        or any(char in decoded for char in "?#\\")
        or any(ord(char) < 32 or ord(char) == 127 for char in decoded)
    ):
        raise OperationError(
            EnumErrorCode.INVALID_PAYLOAD,
            f"payload.path: {path!r} must be a plain relative path (no '..', '.', '?', '#', backslash or scheme, "
            "also when percent-encoded)",
        )
    return base_url.rstrip("/") + "/" + path.lstrip("/") if path else base_url


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _safe_url(url: httpx.URL) -> str:
    """The URL without userinfo and query: either can hold a credential the contract pinned."""
    return str(url.copy_with(username=None, password=None, query=None, fragment=None))


def _is_http_url(value: Any) -> bool:
    return isinstance(value, str) and http_url_problem(value) is None


def _raw_body(payload: HttpRequestPayload) -> bytes | None:
    if payload.body is not None:
        return payload.body.encode()
    if payload.body_base64 is not None:
        try:
            return base64.b64decode(payload.body_base64, validate=True)
        except binascii.Error:
            raise OperationError(EnumErrorCode.INVALID_PAYLOAD, "payload.body_base64: not valid base64") from None
    return None


def _decode_body(response: httpx.Response, content: bytes) -> tuple[Any, str]:
    """JSON when the response says so, text when it decodes, base64 otherwise."""
    mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content and (mime == "application/json" or mime.endswith("+json")):
        try:
            parsed = json.loads(content)
        except (ValueError, RecursionError):
            pass  # a server that mislabels its body (or nests it absurdly) still gets its text returned
        else:
            if _depth_within(parsed, MAX_JSON_DEPTH):
                return parsed, "json"
    try:
        return content.decode(response.charset_encoding or "utf-8"), "text"
    except (UnicodeDecodeError, LookupError):
        return base64.b64encode(content).decode("ascii"), "base64"


def _depth_within(value: Any, limit: int) -> bool:
    """Whether a parsed JSON value nests at most ``limit`` deep (iteratively: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return False
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return True
