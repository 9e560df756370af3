"""``onex-host offsets handover`` argument handling, without a broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from onex_host.cli import main
from tests.support.builders.host_process import free_port


def test_from_group_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["offsets", "handover", "--bootstrap-servers", "k:9092", "--to-group", "b", "--topic", "t"])
    assert exited.value.code == 2
    assert "--from-group" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--to-group", "b"], "error: --topic: required (or give --contract)"),
        (["--topic", "t"], "error: --to-group: required (or give --contract)"),
    ],
)
def test_topic_and_target_group_are_required_without_a_contract(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["offsets", "handover", "--bootstrap-servers", "k:9092", "--from-group", "a", *argv]) == 2
    assert capsys.readouterr().err.strip() == message


def test_the_same_group_on_both_sides_is_refused_before_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--bootstrap-servers", f"127.0.0.1:{free_port()}", "--from-group", "a", "--to-group", "a", "--topic", "t"]
    assert main(["offsets", "handover", *argv]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: handover refused: --from-group and --to-group are both 'a'; nothing to hand over"
    )


def test_an_unreachable_broker_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contract = tmp_path / "host.yaml"
    contract.write_text(
        "name: host\nevent_bus:\n  type: kafka\n  config:\n"
        f"    bootstrap_servers: '127.0.0.1:{free_port()}'\n    consumer_group: onex\n"
        "    command_topic: commands\n    response_topic: replies\n"
    )
    assert main(["offsets", "handover", "--contract", str(contract), "--from-group", "legacy"]) == 3
    assert capsys.readouterr().err.startswith("error: cannot reach the Kafka brokers")
