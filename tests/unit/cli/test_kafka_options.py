"""One rule for every Kafka option: the command line, else the contract, else (without one) the environment."""

from __future__ import annotations

import argparse
import ssl

import pytest

from onex_host.cli._common import CliError
from onex_host.cli._kafka_options import client_settings, option_or_contract, reported_against
from onex_host.infra.bus.kafka.config import KafkaBusConfig, KafkaTlsConfig
from onex_host.infra.kafka_tools.errors import BrokerUnreachableError, UnknownTopicError

ENV = "ONEX_TEST_OPTION"
BUS = KafkaBusConfig(
    bootstrap_servers=["contract:9092"],
    consumer_group="g",
    command_topic="commands",
    response_topic="replies",
    sasl={"username": "u", "password": "p"},
)


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)


def test_the_command_line_wins_over_the_contract_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "from-env")
    assert option_or_contract("--topic", "from-cli", BUS, lambda b: b.command_topic, env=ENV) == "from-cli"


def test_the_contract_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "from-env")
    assert option_or_contract("--topic", None, BUS, lambda b: b.command_topic, env=ENV) == "commands"
    assert option_or_contract("--topic", "", BUS, lambda b: b.command_topic, env=ENV) == "commands"


def test_the_environment_is_read_only_without_a_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "from-env")
    assert option_or_contract("--topic", None, None, lambda b: b.command_topic, env=ENV) == "from-env"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (None, "--topic: required (or give --contract)"),
        (ENV, f"--topic: required (or set ${ENV}, or give --contract)"),
    ],
)
def test_without_any_source_the_option_is_required(env: str | None, message: str) -> None:
    with pytest.raises(CliError) as caught:
        option_or_contract("--topic", None, None, lambda b: b.command_topic, env=env)
    assert str(caught.value) == message
    assert caught.value.exit_code == 2


def _args(servers: str | None) -> argparse.Namespace:
    return argparse.Namespace(bootstrap_servers=servers)


def test_brokers_from_the_command_line_keep_the_contracts_sasl() -> None:
    settings = client_settings(_args("a:1, b:2"), BUS)
    assert settings["bootstrap_servers"] == ["a:1", "b:2"]
    assert (settings["security_protocol"], settings["sasl_plain_username"]) == ("SASL_PLAINTEXT", "u")


def test_brokers_come_from_the_contract_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "env:9092")
    assert client_settings(_args(None), BUS)["bootstrap_servers"] == ["contract:9092"]
    assert client_settings(_args(None), None) == {"client_id": "onex-host-tools", "bootstrap_servers": ["env:9092"]}


def test_brokers_are_required_somewhere() -> None:
    with pytest.raises(CliError, match=r"^--bootstrap-servers: required \(or set \$KAFKA_BOOTSTRAP_SERVERS, or give"):
        client_settings(_args(None), None)


def test_tls_comes_from_the_contract_whoever_names_the_brokers() -> None:
    bus = BUS.model_copy(update={"sasl": None, "tls": KafkaTlsConfig()})
    settings = client_settings(_args("a:1"), bus)
    assert settings["security_protocol"] == "SSL"
    assert isinstance(settings["ssl_context"], ssl.SSLContext)
    assert settings["bootstrap_servers"] == ["a:1"]


def test_a_bad_input_found_at_the_brokers_names_the_option() -> None:
    with pytest.raises(UnknownTopicError) as caught, reported_against("--from"):
        raise UnknownTopicError("t.dlq", role="dead-letter topic")
    assert str(caught.value) == "--from: dead-letter topic 't.dlq' does not exist"


def test_other_tool_errors_are_not_tied_to_the_option() -> None:
    with pytest.raises(BrokerUnreachableError) as caught, reported_against("--from"):
        raise BrokerUnreachableError("cannot reach the Kafka brokers at k:1: KafkaConnectionError")
    assert str(caught.value) == "cannot reach the Kafka brokers at k:1: KafkaConnectionError"
