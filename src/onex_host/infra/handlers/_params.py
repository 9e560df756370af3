"""Payloads and contract-fixed params: what a node contract pins, an envelope cannot change.

A node contract's operation ``params`` hold two kinds of key:

* contract-only keys a handler reads itself (a SQL ``statement``, an HTTP
  ``base_url``, a Vault ``path_prefix``), which no payload field can name;
* pinned payload fields (``method: GET``, ``path: app/config``), merged into
  every request of that operation. An envelope that sets a pinned field is
  refused rather than silently overridden, so the caller learns that the
  contract, not the payload, decides.

``onex_host.infra.handlers.base`` applies these to every request; nothing
else in a handler reads the payload before its model has validated it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from onex_host.core.contracts import ModelOperationSpec
from onex_host.core.enums import EnumErrorCode
from onex_host.core.errors import OperationError
from onex_host.core.loader import describe_error, format_location

PayloadT = TypeVar("PayloadT", bound=BaseModel)


def unknown_params(
    spec: ModelOperationSpec, payload_model: type[BaseModel], contract_keys: Collection[str]
) -> str | None:
    """Load-time check: every params key is a contract-only key or a payload field to pin."""
    allowed = set(contract_keys) | _field_names(payload_model)
    unknown = sorted(set(spec.params) - allowed)
    if unknown:
        return f"params.{unknown[0]}: unknown parameter (known: {', '.join(sorted(allowed))})"
    return None


def apply_pinned(payload: Mapping[str, Any], pinned: Mapping[str, Any], operation: str) -> dict[str, Any]:
    if not pinned:  # most operations pin nothing: skip the clash search
        return dict(payload)
    clash = sorted(key for key in pinned if key in payload)
    if clash:
        raise OperationError(
            EnumErrorCode.FORBIDDEN,
            f"payload.{clash[0]}: fixed by the node contract for operation {operation!r}; remove it from the payload",
            {"pinned_fields": clash},
        )
    return {**payload, **pinned}


def parse_payload(model: type[PayloadT], payload: Mapping[str, Any]) -> PayloadT:
    """Validate a request payload; a problem becomes an ``invalid_payload`` reply naming the field."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"payload.{format_location(e['loc'])}: {describe_error(e)}" if e["loc"] else f"payload: {describe_error(e)}"
            for e in exc.errors()
        )
        raise OperationError(EnumErrorCode.INVALID_PAYLOAD, problems) from None


def _field_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        if isinstance(info.alias, str):
            names.add(info.alias)
    return names
