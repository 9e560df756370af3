"""URLs and DSNs from contracts, checked when the contract is parsed rather than when a client first uses them.

A URL a client library cannot parse fails late and loudly (a traceback from
``run`` after ``validate`` said ok), and a DSN whose password holds an
unencoded ``#``, ``@``, ``/`` or ``?`` is split in the wrong place, so a
fragment of the password ends up in a host name, and from there in error
messages. Both are refused here with a message that never quotes the value
(it may hold a credential).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator


def http_url_problem(value: str) -> str | None:
    """Why ``value`` is not an absolute http(s) URL with a host, or None."""
    if value != value.strip() or any(ord(char) < 33 for char in value):
        return "must not contain whitespace or control characters"
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        return f"is not a valid URL ({exc})"
    if url.scheme not in ("http", "https") or not url.host:
        return "must be an absolute http:// or https:// URL with a host"
    return None


def postgres_dsn_problem(dsn: str) -> str | None:
    """Why ``dsn`` is not a libpq URI this handler can use, or None; never quotes the DSN."""
    try:
        parts = urlsplit(dsn)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "is not a valid postgresql:// URI (percent-encode '#', '@', '/', '?' and ':' in the password)"
    if parts.scheme not in ("postgres", "postgresql"):
        return "must start with postgresql:// (or postgres://)"
    if parts.fragment or "#" in dsn:
        return "has a '#': percent-encode it (%23) if it belongs to the password"
    if parts.netloc.count("@") > 1:
        return "has more than one '@': percent-encode it (%40) if it belongs to the password"
    return None


def _checked_http_url(value: str) -> str:
    problem = http_url_problem(value)
    if problem:
        raise ValueError(problem)
    return value


HttpUrlText = Annotated[str, AfterValidator(_checked_http_url)]
"""A config field holding an absolute http(s) URL, refused at parse if a client could not use it."""
