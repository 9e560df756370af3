"""Contract-pinned params: the envelope cannot override what the node contract fixes."""

from __future__ import annotations

import pytest

from onex_host.core import EnumErrorCode, ModelOperationSpec, OperationError
from onex_host.infra.handlers._params import apply_pinned, unknown_params
from onex_host.infra.handlers.base import PayloadModel


class _Payload(PayloadModel):
    path: str
    version: int | None = None


def test_pinned_fields_are_merged_into_the_payload() -> None:
    assert apply_pinned({"version": 2}, {"path": "a"}, "op") == {"version": 2, "path": "a"}


def test_a_payload_that_sets_a_pinned_field_is_forbidden() -> None:
    with pytest.raises(OperationError) as caught:
        apply_pinned({"path": "b"}, {"path": "a"}, "get_config")

    assert caught.value.code is EnumErrorCode.FORBIDDEN
    assert caught.value.message.startswith("payload.path: fixed by the node contract for operation 'get_config'")


def test_params_may_name_payload_fields_and_contract_keys_only() -> None:
    ok = ModelOperationSpec.model_validate({"handler_type": "vault", "params": {"path": "a", "path_prefix": "p"}})
    bad = ModelOperationSpec.model_validate({"handler_type": "vault", "params": {"paht": "a"}})

    assert unknown_params(ok, _Payload, {"path_prefix"}) is None
    assert (
        unknown_params(bad, _Payload, {"path_prefix"})
        == "params.paht: unknown parameter (known: path, path_prefix, version)"
    )
