"""Slash-separated names (Vault paths, Consul keys) and the prefixes a host may touch.

Prefixes match whole segments: ``apps/onex`` covers ``apps/onex/db`` but not
``apps/onex-admin``; ``.`` and ``..`` segments are refused outright, so no
name can climb out of a prefix.
"""

from __future__ import annotations

from collections.abc import Sequence


def normalize_path(path: str, what: str = "path") -> str:
    """``a/b`` from ``/a/b/``; raises ``ValueError`` for an empty, ``.`` or ``..`` segment."""
    stripped = path.strip("/")
    if not stripped:
        return ""
    if any(segment in ("", ".", "..") for segment in stripped.split("/")):
        raise ValueError(f"{what} {path!r} has an empty, '.' or '..' segment")
    return stripped


def join_paths(*parts: str) -> str:
    """Normalized parts joined with ``/``; raises ``ValueError`` like ``normalize_path``."""
    return "/".join(part for part in (normalize_path(p) for p in parts) if part)


def within_prefixes(path: str, prefixes: Sequence[str] | None) -> bool:
    """Whether a normalized ``path`` is under one of the normalized ``prefixes``; None allows all."""
    if prefixes is None:
        return True
    return any(not prefix or path == prefix or path.startswith(prefix + "/") for prefix in prefixes)
