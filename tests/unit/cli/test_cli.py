"""CLI behaviour users see: exit codes and one clear line per problem, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onex_host.cli import main
from onex_host.cli._common import bundled_contracts_dir, resolve_contract

DEV = bundled_contracts_dir() / "runtime" / "dev_runtime_host.yaml"


def test_validate_accepts_the_dev_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DEV)]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {DEV} (dev_runtime_host: 1 nodes; handlers: local;")


def test_validate_reports_each_problem_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nhandlers:\n  - handler_type: kafka\nmystery: 1\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"error: {bad.resolve()}: handlers[0].handler_type: unknown value 'kafka'")
    assert err[1] == f"error: {bad.resolve()}: mystery: unknown field"
    assert len(err) == 2


def test_validate_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope.yaml'}: (file): contract file not found\n"


def test_validate_an_operation_whose_handler_is_not_enabled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "node.yaml").write_text("name: n\noperations:\n  q: {handler_type: db}\n")
    host = tmp_path / "host.yaml"
    host.write_text("name: h\nnodes: [{slug: n, contract_path: node.yaml}]\n")
    assert main(["validate", str(host)]) == 2
    assert (
        f"{(tmp_path / 'node.yaml').resolve()}: operations.q.handler_type: handler 'db' is not enabled"
        in capsys.readouterr().err
    )


def test_run_with_a_bad_contract_exits_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [\n")
    assert main(["run", str(bad), "--log-format", "text"]) == 2
    err = capsys.readouterr().err
    assert "invalid YAML at line" in err
    assert "Traceback" not in err


def test_resolve_contract_prefers_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEX_CONTRACT", str(DEV))
    assert resolve_contract(None) == DEV
    monkeypatch.delenv("ONEX_CONTRACT")
    assert resolve_contract(None) == DEV
    assert resolve_contract(str(DEV)) == DEV


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--payload", "{oops"], "error: --payload: invalid JSON at line 1, column 2"),
        (["--payload", "[1]"], "error: --payload: expected a JSON object"),
        (["--payload", "@/nonexistent/file.json"], "error: --payload: cannot read /nonexistent/file.json"),
        (["--ttl", "-1"], "error: envelope: ttl_seconds: Input should be greater than 0"),
    ],
)
def test_send_rejects_bad_input_with_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "--url", "http://127.0.0.1:9", *args]) == 2
    assert capsys.readouterr().err.startswith(message)


def test_send_reads_a_complete_envelope_from_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    envelope = tmp_path / "e.json"
    envelope.write_text(json.dumps({"source_node": "x", "operation": "echo"}))
    assert main(["send", "--url", "http://127.0.0.1:9", "--envelope", str(envelope)]) == 2
    assert capsys.readouterr().err == "error: envelope: handler_type: required field is missing\n"


def test_send_to_an_unreachable_host_exits_3(unused_tcp_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "--url", f"http://127.0.0.1:{unused_tcp_port}", "--timeout", "2"]) == 3
    assert capsys.readouterr().err.startswith(f"error: cannot reach host at http://127.0.0.1:{unused_tcp_port}/")


def test_an_invalid_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--health-port", "99999"])
    assert info.value.code == 2
    assert "port out of range 0-65535: 99999" in capsys.readouterr().err
