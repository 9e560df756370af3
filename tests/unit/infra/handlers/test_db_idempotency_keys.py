"""The db handler's idempotency key: which requests get one, and when a stored row may answer a request.

Pure logic; the behaviour on a real PostgreSQL (redelivery, concurrency,
rollback, purge) is in tests/integration/test_db_commands_run_once_per_envelope_id.py.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from onex_host.core.contracts import ModelOperationSpec
from onex_host.core.enums import EnumHandlerType, EnumSideEffects
from onex_host.core.envelope import MAX_TTL_SECONDS, ModelOnexEnvelope
from onex_host.core.operation import OperationContext
from onex_host.infra.handlers.db.config import DbHandlerConfig, DbIdempotencyConfig
from onex_host.infra.handlers.db.idempotency import IdempotencyKey, IdempotencyLedger, request_digest


def envelope(payload: dict[str, Any] | None = None, **fields: Any) -> ModelOnexEnvelope:
    base: dict[str, Any] = {
        "source_node": "caller",
        "target_node": "ledger",
        "handler_type": EnumHandlerType.DB,
        "operation": "open",
        "payload": payload if payload is not None else {"args": [1, 100]},
    }
    return ModelOnexEnvelope(**{**base, **fields})


def context(
    request: ModelOnexEnvelope | None,
    side_effects: EnumSideEffects = EnumSideEffects.EXTERNAL,
    node: str = "ledger",
    operation: str = "open",
) -> OperationContext:
    spec = ModelOperationSpec(handler_type=EnumHandlerType.DB, action="execute", side_effects=side_effects)
    return OperationContext(node_slug=node, operation=operation, spec=spec, envelope=request)


def key_of(request: ModelOnexEnvelope, **where: Any) -> IdempotencyKey:
    key = IdempotencyKey.of(context(request, **where))
    assert key is not None
    return key


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
PAYLOADS = st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=5)


# -- which requests are keyed ---------------------------------------------------------------


@pytest.mark.parametrize("side_effects", [EnumSideEffects.IDEMPOTENT, EnumSideEffects.EXTERNAL])
def test_operations_with_side_effects_are_keyed_by_their_envelope_id(side_effects: EnumSideEffects) -> None:
    request = envelope()
    key = key_of(request, side_effects=side_effects)

    assert (key.envelope_id, key.scope, key.node_slug, key.operation) == (request.envelope_id, "", "ledger", "open")


def test_read_only_operations_and_requests_without_an_envelope_get_no_key() -> None:
    assert IdempotencyKey.of(context(envelope(), side_effects=EnumSideEffects.NONE)) is None
    assert IdempotencyKey.of(context(None)) is None


def test_a_disabled_ledger_keys_nothing() -> None:
    ledger = IdempotencyLedger(DbIdempotencyConfig(enabled=False), statement_timeout_seconds=1)

    assert ledger.key_for(context(envelope())) is None
    assert IdempotencyLedger(DbIdempotencyConfig(), 1).key_for(context(envelope())) is not None


def test_each_node_of_a_broadcast_has_its_own_scope_and_a_targeted_command_has_one_scope() -> None:
    broadcast = envelope(target_node=None)
    scopes = {key_of(broadcast, node=node).scope for node in ("ledger", "audit")}
    assert scopes == {"ledger", "audit"}

    targeted = envelope()
    # A targeted envelope's scope is the same whichever node it names, so reusing its id elsewhere is caught.
    assert key_of(targeted, node="ledger").scope == key_of(targeted, node="audit").scope == ""


def test_the_key_keeps_the_envelope_expiry_so_the_row_outlives_the_envelope() -> None:
    request = envelope(ttl_seconds=MAX_TTL_SECONDS)
    assert key_of(request).envelope_expires_at == request.expires_at
    assert key_of(envelope()).envelope_expires_at is None


# -- the digest -----------------------------------------------------------------------------------


@given(PAYLOADS)
def test_a_redelivery_digests_the_same_whatever_encoder_or_key_order_carried_it(payload: dict[str, Any]) -> None:
    first = envelope(payload)
    redelivered = ModelOnexEnvelope.from_wire(first.to_wire())
    reordered = envelope(dict(reversed(list(payload.items()))), envelope_id=first.envelope_id)
    reencoded = envelope(json.loads(json.dumps(payload, indent=2)), envelope_id=first.envelope_id)

    assert (
        request_digest(redelivered) == request_digest(reordered) == request_digest(reencoded) == request_digest(first)
    )
    assert len(request_digest(first)) == 32


@given(PAYLOADS, PAYLOADS)
def test_different_payloads_digest_differently(one: dict[str, Any], other: dict[str, Any]) -> None:
    if json.dumps(one, sort_keys=True) == json.dumps(other, sort_keys=True):
        return
    assert request_digest(envelope(one)) != request_digest(envelope(other))


def test_the_digest_covers_the_source_node_but_not_routing_metadata_or_timestamps() -> None:
    request = envelope()
    same_request = envelope(
        envelope_id=request.envelope_id, metadata={"reply_to": "other.topic"}, correlation_id=uuid.uuid4()
    )
    other_source = envelope(source_node="intruder", envelope_id=request.envelope_id)

    assert request_digest(same_request) == request_digest(request)
    assert request_digest(other_source) != request_digest(request)


# -- when a stored row may answer --------------------------------------------------------------------


def test_a_stored_row_answers_only_the_same_node_operation_and_request() -> None:
    key = key_of(envelope())

    assert key.refusal("ledger", "open", key.digest) is None
    assert key.refusal("audit", "open", key.digest) == "another node or operation"
    assert key.refusal("ledger", "close", key.digest) == "another node or operation"
    assert key.refusal("ledger", "open", request_digest(envelope({"args": [1, 999]}))) == (
        "another payload or source node"
    )


# -- config -------------------------------------------------------------------------------------------


def test_idempotency_is_on_by_default_and_keeps_keys_at_least_as_long_as_the_longest_ttl() -> None:
    config = DbHandlerConfig().idempotency

    assert config.enabled is True
    assert config.retention_seconds >= MAX_TTL_SECONDS
    assert config.purge_batch_size > 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("retention_seconds", 0), ("purge_interval_seconds", 0), ("purge_batch_size", 0), ("purge_batch_size", 10**6),
     ("table", "other")],
)  # fmt: skip
def test_bad_idempotency_config_is_refused_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        DbHandlerConfig.model_validate({"idempotency": {field: value}})
    assert refused.value.errors()[0]["loc"] == ("idempotency", field)


# -- purge scheduling ----------------------------------------------------------------------------------


async def test_a_purge_starts_at_most_once_per_interval_and_a_failing_one_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ledger = IdempotencyLedger(DbIdempotencyConfig(purge_interval_seconds=3600), statement_timeout_seconds=1)
    attempts: list[int] = []

    async def unreachable() -> Any:
        attempts.append(1)
        raise OSError("connection refused")

    ledger.purge_soon(unreachable)
    ledger.purge_soon(unreachable)  # still running, or within the interval: not started again
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    ledger.purge_soon(unreachable)
    await ledger.close()

    assert attempts == [1]
    (logged,) = [r for r in caplog.records if r.getMessage() == "idempotency purge failed"]
    assert getattr(logged, "error", None) == "OSError"
    assert "connection refused" not in logged.getMessage()
