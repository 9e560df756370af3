from __future__ import annotations

import pytest

from onex_host.core.contracts import ModelEventBusConfig
from onex_host.core.errors import ContractError
from onex_host.infra.bus.factory import build_event_bus, parse_event_bus_config
from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.metrics import HostMetrics


def test_a_kafka_contract_builds_the_kafka_bus_without_connecting() -> None:
    config = ModelEventBusConfig(
        type="kafka",
        config={
            "bootstrap_servers": "127.0.0.1:1",
            "consumer_group": "g",
            "command_topic": "c",
            "response_topic": "r",
        },
    )
    parsed = parse_event_bus_config(config, source="host.yaml")
    bus = build_event_bus(parsed, max_concurrent=4, metrics=HostMetrics())
    assert isinstance(bus, KafkaEventBus)
    health = bus.health()
    assert (health.bus_type, health.live, health.ready) == ("kafka", False, False)
    assert health.details["max_inflight"] == 4


def test_a_bad_kafka_config_names_every_field_in_the_contract() -> None:
    config = ModelEventBusConfig(type="kafka", config={"bootstrap_servers": "k:9092", "mode": "mirror"})
    with pytest.raises(ContractError) as caught:
        parse_event_bus_config(config, source="host.yaml")
    lines = str(caught.value).splitlines()
    assert "host.yaml: event_bus.config.consumer_group: required field is missing" in lines
    assert "host.yaml: event_bus.config.command_topic: required field is missing" in lines
    assert any(line.startswith("host.yaml: event_bus.config.mode: unknown value 'mirror'") for line in lines)
