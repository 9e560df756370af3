"""Load-time checks: a node operation a handler cannot run fails when the contract loads, not at request time."""

from __future__ import annotations

from typing import Any

import pytest

from onex_host.core import ContractError, EnumHandlerType, ModelOperationSpec
from onex_host.infra.handlers.consul import ConsulHandler
from onex_host.infra.handlers.db import DbHandler
from onex_host.infra.handlers.http import HttpHandler
from onex_host.infra.handlers.llm import LlmHandler
from onex_host.infra.handlers.vault import VaultHandler
from onex_host.infra.wiring import HANDLER_REGISTRY


def _spec(kind: EnumHandlerType, **fields: Any) -> ModelOperationSpec:
    return ModelOperationSpec.model_validate({"handler_type": kind.value, **fields})


_MINIMAL_CONFIGS: dict[EnumHandlerType, dict[str, Any]] = {
    EnumHandlerType.VAULT: {"url": "http://127.0.0.1:9", "token": "t"},
    EnumHandlerType.LLM: {"base_url": "http://127.0.0.1:9/v1", "model": "m"},
    EnumHandlerType.DB: {"allow_raw_sql": True},
}


def _handler(kind: EnumHandlerType) -> Any:
    return HANDLER_REGISTRY[kind].from_config(_MINIMAL_CONFIGS.get(kind, {}))


@pytest.mark.parametrize(
    ("kind", "fields", "problem"),
    [
        (EnumHandlerType.DB, {"action": "query"}, "params.statement: required for a db query operation"),
        (EnumHandlerType.DB, {"action": "query", "params": {"sql": "SELECT 1"}}, "params.sql: declare SQL"),
        (EnumHandlerType.DB, {"action": "transaction", "params": {"statement": "x"}}, "takes params.statements"),
        (EnumHandlerType.DB, {"action": "execute", "params": {"statements": {"a": "x"}}}, "takes params.statement"),
        (EnumHandlerType.DB, {"action": "query", "params": {"statement": ""}}, "params.statement"),
        (
            EnumHandlerType.DB,
            {"action": "query", "params": {"statement": "x", "timeout": 1}},
            "params.timeout: unknown",
        ),
        (EnumHandlerType.HTTP, {"action": "request", "params": {"base_url": "ftp://x"}}, "params.base_url"),
        (EnumHandlerType.HTTP, {"action": "request", "params": {"host": "x"}}, "params.host: unknown"),
        (EnumHandlerType.VAULT, {"action": "get_secret", "params": {"path_prefix": "a/../b"}}, "params.path_prefix"),
        (EnumHandlerType.VAULT, {"action": "get_secret", "params": {"path": 3}}, "params.path: must be a string"),
        (EnumHandlerType.CONSUL, {"action": "kv_get", "params": {"key_prefix": "a//b"}}, "params.key_prefix"),
        (EnumHandlerType.LLM, {"action": "chat", "params": {"api_key": "x"}}, "params.api_key: unknown"),
    ],
)
def test_invalid_operations_are_refused_with_the_reason(
    kind: EnumHandlerType, fields: dict[str, Any], problem: str
) -> None:
    assert problem in (_handler(kind).validate_operation("op", _spec(kind, **fields)) or "")


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        (EnumHandlerType.DB, {"action": "query", "params": {"statement": "SELECT 1"}}),
        (EnumHandlerType.DB, {"action": "query", "params": {"raw_sql": True}}),
        (
            EnumHandlerType.HTTP,
            {"action": "request", "params": {"base_url": "https://api.example.com/v1", "method": "GET"}},
        ),
        (EnumHandlerType.VAULT, {"action": "list_secrets", "params": {"path_prefix": "apps/onex"}}),
        (EnumHandlerType.CONSUL, {"action": "kv_put", "params": {"key_prefix": "onex", "flags": 1}}),
        (EnumHandlerType.LLM, {"action": "embed", "params": {"model": "e5"}}),
    ],
)
def test_valid_operations_pass(kind: EnumHandlerType, fields: dict[str, Any]) -> None:
    assert _handler(kind).validate_operation("op", _spec(kind, **fields)) is None


def test_a_raw_sql_operation_is_refused_at_load_when_the_config_forbids_it() -> None:
    """The handler has its parsed config before it is initialized, so the check runs at load (validate)."""
    handler = DbHandler.from_config({"host": "127.0.0.1", "port": 9})

    problem = handler.validate_operation("adhoc", _spec(EnumHandlerType.DB, action="query", params={"raw_sql": True}))

    assert problem == "params.raw_sql: this host's db handler config does not set allow_raw_sql"


@pytest.mark.parametrize(
    ("handler", "config", "field"),
    [
        (HttpHandler, {"allowed_hosts": ["http://x/"]}, "allowed_hosts"),
        (HttpHandler, {"timeout_seconds": 0}, "timeout_seconds"),
        (DbHandler, {"pool_min_size": 5, "pool_max_size": 2}, "pool_min_size (5) exceeds pool_max_size (2)"),
        (VaultHandler, {"url": "http://v"}, "token: required field is missing"),
        (VaultHandler, {"url": "http://v", "token": "t", "allowed_paths": ["a/../b"]}, "allowed_paths"),
        (ConsulHandler, {"allowed_key_prefixes": ["a//b"]}, "allowed_key_prefixes"),
        (LlmHandler, {"base_url": "http://x/v1"}, "model: required field is missing"),
    ],
)
def test_bad_handler_configs_are_contract_errors_naming_the_field(
    handler: Any, config: dict[str, Any], field: str
) -> None:
    with pytest.raises(ContractError, match=field.replace("(", r"\(").replace(")", r"\)")):
        handler.parse_config(config)


def test_secrets_in_configs_do_not_show_in_their_repr() -> None:
    vault = VaultHandler.parse_config({"url": "http://v", "token": "hvs.very-secret"})
    db = DbHandler.parse_config({"password": "pw-very-secret", "dsn": "postgresql://u:pw-very-secret@h/d"})
    llm = LlmHandler.parse_config({"base_url": "http://x/v1", "model": "m", "api_key": "sk-very-secret"})

    assert "very-secret" not in f"{vault!r}{vault}{db!r}{db}{llm!r}{llm}{vault.model_dump_json()}{db.model_dump_json()}"
