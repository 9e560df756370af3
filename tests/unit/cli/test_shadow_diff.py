"""``onex-host shadow-diff`` argument handling: each mistake is one line and exit 2; no broker needed."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from onex_host.cli import main
from onex_host.cli.shadow import _topics
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from tests.support.builders.host_process import free_port

TOPICS = ["--legacy-topic", "replies", "--shadow-topic", "replies.shadow"]


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bootstrap-servers", "k:9092", *TOPICS], "say how long to compare: --duration or --max-replies"),
        (["--bootstrap-servers", "k:9092", "--duration", "1"], "--legacy-topic: required (or give --contract)"),
        (
            ["--bootstrap-servers", "k:9092", "--legacy-topic", "t", "--shadow-topic", "t", "--duration", "1"],
            "--legacy-topic and --shadow-topic are both 't'; they must differ",
        ),
        (["--bootstrap-servers", "nope", *TOPICS, "--duration", "1"], "--bootstrap-servers: 'nope' is not host:port"),
        (
            ["--bootstrap-servers", "k:9092", *TOPICS, "--duration", "1", "--ignore", "payload..x"],
            "--ignore: ignore pattern 'payload..x' is not a dotted field path",
        ),
        ([*TOPICS, "--duration", "1"], "--bootstrap-servers: required (or set $KAFKA_BOOTSTRAP_SERVERS"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert main(["shadow-diff", *argv]) == 2
    assert _error(capsys).startswith(f"error: {message}")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--min-match", "99.9"], "a rate between 0 and 1"),
        (["--window", "0"], "must be positive"),
        (["--max-replies", "ten"], "not a number"),
        (["--since", "1", "--from-beginning"], "not allowed with argument"),
    ],
)
def test_argument_types_are_checked_by_the_parser(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["shadow-diff", "--bootstrap-servers", "k:9092", *TOPICS, "--duration", "1", *argv])
    assert exited.value.code == 2
    assert message in _error(capsys)


def test_an_unreachable_broker_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["shadow-diff", "--bootstrap-servers", f"127.0.0.1:{free_port()}", *TOPICS, "--duration", "1"]
    assert main(argv) == 3
    assert _error(capsys).startswith("error: cannot reach the Kafka brokers")


def _kafka_contract(tmp_path: Path, bus_type: str = "kafka") -> Path:
    contract = tmp_path / "host.yaml"
    contract.write_text(
        f"""
name: host
event_bus:
  type: {bus_type}
  config:
    bootstrap_servers: "127.0.0.1:{free_port()}"
    consumer_group: legacy
    command_topic: commands
    response_topic: replies
"""
    )
    return contract


def test_a_contract_supplies_brokers_and_both_topics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the contract's (unreachable) broker is used: the topics were derived, and the connection is what fails
    assert main(["shadow-diff", "--contract", str(_kafka_contract(tmp_path)), "--duration", "1"]) == 3
    assert _error(capsys).startswith("error: cannot reach the Kafka brokers")


def test_a_contract_without_a_kafka_bus_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contract = _kafka_contract(tmp_path, bus_type="memory")
    assert main(["shadow-diff", "--contract", str(contract), "--duration", "1"]) == 2
    assert _error(capsys) == f"error: {contract}: event_bus.type: is 'memory'; these tools need a kafka event bus"


def test_topics_default_to_the_contracts_response_topic_and_its_shadow() -> None:
    bus = KafkaBusConfig(
        bootstrap_servers=["k:9092"], consumer_group="g", command_topic="commands", response_topic="replies"
    )
    none = argparse.Namespace(legacy_topic=None, shadow_topic=None)
    assert _topics(none, bus) == ("replies", "replies.shadow")
    named = bus.model_copy(update={"shadow_response_topic": "mirror"})
    assert _topics(none, named) == ("replies", "mirror")
    assert _topics(argparse.Namespace(legacy_topic="a", shadow_topic=None), bus) == ("a", "replies.shadow")


def test_only_the_event_bus_section_needs_its_variables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ONEX_TEST_DB_PASSWORD", raising=False)
    monkeypatch.delenv("ONEX_TEST_BROKERS", raising=False)
    contract = tmp_path / "host.yaml"
    contract.write_text(
        """
name: host
handlers:
  - handler_type: db
    config: {password: "${ONEX_TEST_DB_PASSWORD}"}
event_bus:
  type: kafka
  config:
    bootstrap_servers: "${ONEX_TEST_BROKERS}"
    consumer_group: legacy
    command_topic: commands
    response_topic: replies
    mode: "${ONEX_TEST_MODE:-shadow}"
"""
    )
    assert main(["shadow-diff", "--contract", str(contract), "--duration", "1"]) == 2
    assert _error(capsys) == (
        f"error: {contract}: event_bus.config.bootstrap_servers: ${{ONEX_TEST_BROKERS}} is not set and has no default"
    )
    monkeypatch.setenv("ONEX_TEST_BROKERS", f"127.0.0.1:{free_port()}")
    # the database password is never needed: the run gets as far as connecting
    assert main(["shadow-diff", "--contract", str(contract), "--duration", "1"]) == 3
    assert _error(capsys).startswith("error: cannot reach the Kafka brokers")
