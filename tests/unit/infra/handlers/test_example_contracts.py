"""The production example contract loads, and every node operation in it is valid for its handler."""

from __future__ import annotations

from pathlib import Path

import pytest

from onex_host.core import ContractError, EnumHandlerType, load_host
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.wiring import check_handler_configs, register_handlers
from onex_host.runtime import NodeRuntime

INFRA_HOST = Path(__file__).resolve().parents[4] / "contracts" / "runtime" / "infra_runtime_host.yaml"
ENV = {
    "POSTGRES_HOST": "db.internal",
    "POSTGRES_DB": "onex",
    "POSTGRES_USER": "onex",
    "POSTGRES_PASSWORD": "pw",
    "VAULT_ADDR": "https://vault.internal:8200",
    "VAULT_TOKEN": "hvs.example",
    "KAFKA_BOOTSTRAP_SERVERS": "kafka-0:9092,kafka-1:9092",
}


def test_the_infra_host_contract_loads_with_valid_handler_configs() -> None:
    host = load_host(INFRA_HOST, env=ENV)

    check_handler_configs(host.contract, str(host.path))
    assert host.contract.environment == "production"
    assert {h.handler_type for h in host.contract.enabled_handlers()} == {
        EnumHandlerType.HTTP,
        EnumHandlerType.DB,
        EnumHandlerType.VAULT,
        EnumHandlerType.CONSUL,
    }
    assert sorted(node.slug for node in host.nodes) == ["consul_adapter", "postgres_adapter", "vault_adapter"]


def test_production_keeps_raw_sql_off_and_kafka_as_the_bus_not_a_handler() -> None:
    host = load_host(INFRA_HOST, env=ENV)
    (db,) = [h for h in host.contract.handlers if h.handler_type is EnumHandlerType.DB]

    assert not db.config.get("allow_raw_sql", False)
    assert host.contract.event_bus.type == "kafka"
    bus = KafkaBusConfig.model_validate(host.contract.event_bus.config)
    assert bus.bootstrap_servers == ["kafka-0:9092", "kafka-1:9092"]
    assert (bus.command_topic, bus.response_topic) == ("onex.cmd.runtime.infra.v1", "onex.evt.runtime.infra.v1")


def test_every_node_operation_is_accepted_by_its_handler() -> None:
    host = load_host(INFRA_HOST, env=ENV)
    runtime = NodeRuntime()
    register_handlers(runtime, host.contract, str(host.path))

    runtime.add_nodes(host.nodes)  # runs each handler's validate_operation

    assert set(runtime.nodes) == {"consul_adapter", "postgres_adapter", "vault_adapter"}


def test_read_operations_are_declared_free_of_side_effects() -> None:
    host = load_host(INFRA_HOST, env=ENV)
    reads = {
        (node.slug, name): spec.side_effects.value
        for node in host.nodes
        for name, spec in node.contract.operations.items()
        if (spec.action or name) in ("query", "get_secret", "list_secrets", "healthy_instances", "kv_get")
    }

    assert reads
    assert set(reads.values()) == {"none"}, reads


def test_a_missing_secret_in_the_environment_is_named() -> None:
    env = {key: value for key, value in ENV.items() if key != "VAULT_TOKEN"}

    with pytest.raises(ContractError, match=r"handlers\[2\]\.config\.token: \$\{VAULT_TOKEN\} is not set"):
        load_host(INFRA_HOST, env=env)
