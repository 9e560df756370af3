"""Which reply fields a shadow comparison leaves out.

Some fields differ between two correct replies by construction (the reply's
own ``envelope_id``, its ``timestamp``, a ``payload.generated_at`` a node
stamps in): comparing them would report every reply as a mismatch and hide
the real ones.

A rule is a dotted path into the reply envelope (``payload.generated_at``;
list items are addressed by index, ``payload.items.0.id``) or a glob over such
paths (``payload.items.*.id``, ``*.trace_id``). ``*`` matches any run of
characters, dots included, so ``*.generated_at`` ignores the field at any
depth. Ignoring a path ignores everything beneath it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

ALWAYS_DIFFERENT_FIELDS: tuple[str, ...] = ("envelope_id", "timestamp")
"""Set fresh by whoever builds a reply, so two hosts never agree on them."""


def _is_glob(rule: str) -> bool:
    return any(char in rule for char in "*?[")


@dataclass(frozen=True)
class IgnoreRules:
    exact: frozenset[str]
    globs: tuple[str, ...]

    @classmethod
    def from_patterns(cls, patterns: Iterable[str], *, include_defaults: bool = True) -> IgnoreRules:
        """Build the rules; raises ``ValueError`` naming a malformed pattern."""
        chosen = [*ALWAYS_DIFFERENT_FIELDS, *patterns] if include_defaults else list(patterns)
        for pattern in chosen:
            if not pattern or pattern.startswith(".") or pattern.endswith(".") or ".." in pattern:
                raise ValueError(f"ignore pattern {pattern!r} is not a dotted field path such as payload.generated_at")
        return cls(
            exact=frozenset(p for p in chosen if not _is_glob(p)),
            globs=tuple(p for p in chosen if _is_glob(p)),
        )

    def ignores(self, path: str) -> bool:
        return path in self.exact or any(fnmatchcase(path, glob) for glob in self.globs)

    def describe(self) -> list[str]:
        return sorted(self.exact) + list(self.globs)
