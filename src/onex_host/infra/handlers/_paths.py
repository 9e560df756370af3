"""Slash-separated names (Vault paths, Consul keys) and the prefixes a host may touch.

Prefixes match whole segments: ``apps/onex`` covers ``apps/onex/db`` but not
``apps/onex-admin``. Segments are checked after percent-decoding (repeated
until nothing changes, since a server may decode more than once): an empty,
``.`` or ``..`` segment, or one that decodes to a ``/``, a backslash or a
control character, is refused outright, so no name can climb out of a prefix
by any spelling.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote


def fully_unquoted(text: str) -> str:
    """Percent-decoding applied until nothing changes."""
    for _ in range(8):
        decoded = unquote(text)
        if decoded == text:
            return decoded
        text = decoded
    return text


def _bad_segment(segment: str) -> bool:
    decoded = fully_unquoted(segment)
    return (
        decoded in ("", ".", "..")
        or any(char in decoded for char in "/\\")
        or any(ord(char) < 32 or ord(char) == 127 for char in decoded)
    )


def normalize_path(path: str, what: str = "path") -> str:
    """``a/b`` from ``/a/b/``; raises ``ValueError`` for a segment that is empty, ``.`` or ``..`` (in any spelling)."""
    stripped = path.strip("/")
    if not stripped:
        return ""
    if any(_bad_segment(segment) for segment in stripped.split("/")):
        raise ValueError(
            f"{what} {path!r} has an empty, '.' or '..' segment (or one that decodes to '/', '\\' "
            "or a control character)"
        )
    return stripped


def join_paths(*parts: str) -> str:
    """Normalized parts joined with ``/``; raises ``ValueError`` like ``normalize_path``."""
    return "/".join(part for part in (normalize_path(p) for p in parts) if part)


def within_prefixes(path: str, prefixes: Sequence[str] | None) -> bool:
    """Whether a normalized ``path`` is under one of the normalized ``prefixes``; None allows all."""
    if prefixes is None:
        return True
    return any(not prefix or path == prefix or path.startswith(prefix + "/") for prefix in prefixes)
