"""Field-level difference of two JSON documents (two replies to the same command)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from onex_host.core.scrubbing import MASK, looks_secret, scrub_value
from onex_host.infra.kafka_tools.shadow.ignore import IgnoreRules


class DifferenceKind(StrEnum):
    CHANGED = "changed"
    ONLY_LEGACY = "only_legacy"
    ONLY_SHADOW = "only_shadow"


@dataclass(frozen=True)
class FieldDifference:
    """One leaf where the replies disagree; a value is ``None`` on the side where the field is absent."""

    path: str
    kind: DifferenceKind
    legacy: Any = None
    shadow: Any = None

    @property
    def secret(self) -> bool:
        """A field named like a secret anywhere on its path: its values are never shown, only that they differ."""
        return any(looks_secret(part) for part in self.path.split("."))

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "kind": self.kind.value}
        if self.kind is not DifferenceKind.ONLY_SHADOW:
            data["legacy"] = MASK if self.secret else scrub_value(self.legacy)
        if self.kind is not DifferenceKind.ONLY_LEGACY:
            data["shadow"] = MASK if self.secret else scrub_value(self.shadow)
        return data


def diff_fields(legacy: Any, shadow: Any, ignore: IgnoreRules, path: str = "") -> list[FieldDifference]:
    """Every difference between ``legacy`` and ``shadow``, as leaf paths in key order.

    Objects are compared key by key and lists index by index, so a changed
    field is reported at its own path instead of as a whole different payload.
    ``1`` and ``1.0`` are equal (JSON has one number type); ``True`` and ``1`` are not.
    """
    if isinstance(legacy, dict) and isinstance(shadow, dict):
        differences: list[FieldDifference] = []
        for key in sorted(legacy.keys() | shadow.keys(), key=str):
            child = f"{path}.{key}" if path else str(key)
            if ignore.ignores(child):
                continue
            if key not in shadow:
                differences.append(FieldDifference(child, DifferenceKind.ONLY_LEGACY, legacy=legacy[key]))
            elif key not in legacy:
                differences.append(FieldDifference(child, DifferenceKind.ONLY_SHADOW, shadow=shadow[key]))
            else:
                differences.extend(diff_fields(legacy[key], shadow[key], ignore, child))
        return differences
    if isinstance(legacy, list) and isinstance(shadow, list):
        differences = []
        for index in range(max(len(legacy), len(shadow))):
            child = f"{path}.{index}" if path else str(index)
            if ignore.ignores(child):
                continue
            if index >= len(shadow):
                differences.append(FieldDifference(child, DifferenceKind.ONLY_LEGACY, legacy=legacy[index]))
            elif index >= len(legacy):
                differences.append(FieldDifference(child, DifferenceKind.ONLY_SHADOW, shadow=shadow[index]))
            else:
                differences.extend(diff_fields(legacy[index], shadow[index], ignore, child))
        return differences
    if _same_scalar(legacy, shadow):
        return []
    return [FieldDifference(path or "$", DifferenceKind.CHANGED, legacy=legacy, shadow=shadow)]


def _same_scalar(legacy: Any, shadow: Any) -> bool:
    if isinstance(legacy, bool) or isinstance(shadow, bool):
        return type(legacy) is type(shadow) and legacy == shadow
    return bool(legacy == shadow)
