"""The one scrubber every output channel goes through: secrets out, in every spelling.

The host's secrets (handler tokens and passwords, the envelope API token,
Kafka SASL and TLS key passwords) are registered once, when configs are
parsed. Whatever leaves the host as text (log lines, error replies, health
output, dead-letter headers, ``shadow-diff`` output, CLI errors) is passed
through ``scrub``, which masks each registered secret as it would appear:

* plain, and as ``repr`` writes it inside quotes (backslashes, quotes and
  control characters escaped);
* JSON-escaped (what a JSON log line or reply body holds);
* URL-encoded (``quote`` and ``quote_plus``: a token in a query string);

and, whether registered or not, the password part of any URL with userinfo
(``postgresql://user:PASSWORD@host``), since a DSN is the secret most often
echoed back by a client library's error message.

It is a last line of defence: code still must not put secrets into
messages; this catches what a library does behind its back.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterable
from typing import Any, TypeVar, cast

T = TypeVar("T")

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not masked: masking "ab" everywhere would garble every line and hide nothing."""

_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "pass",
        "pwd",
        "secret",
        "token",
        "apikey",
        "credential",
        "credentials",
        "cookie",
        "authorization",
        "auth",
        "dsn",
    }
)
_SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key")})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_USERINFO_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)([^\s@]+)@")

_lock = threading.Lock()
_forms: tuple[str, ...] = ()


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _percent_encoded(secret: str, *, plus_for_space: bool) -> str:
    """RFC 3986 percent-encoding of every byte but the unreserved ones (``urllib.parse.quote(s, safe="")``).

    Written out because ``core`` imports no networking module, ``urllib`` included.
    """
    out = []
    for byte in secret.encode("utf-8"):
        if byte in _UNRESERVED:
            out.append(chr(byte))
        elif byte == 0x20 and plus_for_space:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def _spellings(secret: str) -> set[str]:
    return {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(json.dumps(secret)[1:-1])[1:-1],  # JSON quoted inside JSON: an upstream's error, quoted
        _percent_encoded(secret, plus_for_space=False),
        _percent_encoded(secret, plus_for_space=True),
        _percent_encoded(secret, plus_for_space=False).lower(),
    }


def register_secrets(values: Iterable[str]) -> None:
    """Mask these values, in every spelling, in everything ``scrub`` sees from now on."""
    global _forms
    new = {form for value in values if len(value) >= MIN_SECRET_LENGTH for form in _spellings(value)}
    with _lock:
        # Longest first, so a secret that contains another is masked whole.
        _forms = tuple(sorted(set(_forms) | new, key=len, reverse=True))


def forget_secrets() -> None:
    """For tests: start again with no registered secret."""
    global _forms
    with _lock:
        _forms = ()


def scrub(text: str) -> str:
    """``text`` with every registered secret and every URL password masked."""
    for form in _forms:
        if form in text:
            text = text.replace(form, MASK)
    if "://" in text:
        text = _USERINFO_PASSWORD.sub(lambda match: match.group(1) + MASK + "@", text)
    return text


def scrub_value(value: T) -> T:
    """``scrub`` applied to every string in a JSON-like value (keys included); the shape is unchanged."""
    return cast(T, _scrub_any(value))


def _scrub_any(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(k) if isinstance(k, str) else k: _scrub_any(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_any(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_scrub_any(item) for item in value)
    return value


def has_secrets() -> bool:
    return bool(_forms)


def looks_secret(field_name: str) -> bool:
    """Whether a field is named like a secret (``password``, ``api_key``, ``client_secret``, ``token``...).

    For output that shows values the host never registered, such as two
    replies' payloads compared by ``shadow-diff``: a field so named is shown
    as ``***`` on both sides, whether or not the values differ.
    """
    words = [word.lower() for word in _WORD.findall(field_name)]
    if any(word in _SECRET_WORDS for word in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))
