"""``onex-host promote``: one call to a real standby host; exit codes and one line per failure."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from onex_host.cli import main
from onex_host.core.file_registry import load_host
from onex_host.infra.process import RuntimeHostProcess
from tests.support.builders.host_process import free_port
from tests.unit.infra.test_process import write_host

ADMIN_TOKEN = "cli-admin-token-31d8"


@pytest.fixture(autouse=True)
def _host_logs_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host under test logs on this process's root logger: keep its lines out of the CLI's stderr,
    which these tests read (an earlier ``onex-host run`` in the session may have pointed a handler at it)."""
    monkeypatch.setattr(logging.getLogger(), "handlers", [])


@pytest.fixture
async def standby(tmp_path: Path) -> AsyncIterator[RuntimeHostProcess]:
    process = RuntimeHostProcess(load_host(write_host(tmp_path, admin_token=ADMIN_TOKEN), env={}), standby=True)
    await process.start()
    yield process
    await process.stop()


def _url(process: RuntimeHostProcess) -> str:
    host, port = process.endpoints.addresses["health"]
    return f"http://{host}:{port}"


def _token_file(tmp_path: Path, text: str = ADMIN_TOKEN + "\n") -> Path:
    path = tmp_path / "admin-token"
    path.write_text(text)
    return path


async def _run(*argv: str) -> int:
    # The CLI is synchronous; the host under test runs on this loop.
    return await asyncio.to_thread(main, list(argv))


async def test_promote_then_promote_again(
    standby: RuntimeHostProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = str(_token_file(tmp_path))  # `echo token > file` leaves a newline: dropped
    assert await _run("promote", "--url", _url(standby), "--token-file", token) == 0
    assert capsys.readouterr().out.startswith("promoted: consuming as primary in ")
    assert not standby.promotion.standby
    assert await _run("promote", "--url", _url(standby), "--token-file", token) == 0
    assert capsys.readouterr().out == "already active (consuming as primary)\n"


async def test_the_token_may_come_from_the_environment(
    standby: RuntimeHostProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONEX_ADMIN_TOKEN", ADMIN_TOKEN)
    assert await _run("promote", "--url", _url(standby)) == 0


async def test_a_wrong_token_is_one_line_and_exit_1(
    standby: RuntimeHostProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = str(_token_file(tmp_path, "not-the-token"))
    assert await _run("promote", "--url", _url(standby), "--token-file", token) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: promotion refused (401): missing or wrong admin token "
        "(expected 'Authorization: Bearer <admin token>')\n"
    )
    assert standby.promotion.standby


async def test_a_refused_handover_is_one_line_and_exit_1(
    standby: RuntimeHostProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = str(_token_file(tmp_path))
    assert await _run("promote", "--url", _url(standby), "--token-file", token, "--handover-from", "legacy") == 1
    assert capsys.readouterr().err == (
        "error: promotion refused (409): an offset handover needs a kafka event bus; this host has none\n"
    )


async def test_a_host_without_an_admin_endpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    process = RuntimeHostProcess(load_host(write_host(tmp_path), env={}))
    await process.start()
    try:
        assert await _run("promote", "--url", _url(process), "--token-file", str(_token_file(tmp_path))) == 1
    finally:
        await process.stop()
    assert "has no admin endpoint (404)" in capsys.readouterr().err


async def test_an_unreachable_host_is_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert await _run("promote", "--url", url, "--token-file", str(_token_file(tmp_path)), "--timeout", "5") == 3
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach host at {url}/admin/promote: ConnectError")
    assert err.count("\n") == 1


@pytest.mark.parametrize("content", [None, "", "\n"])
def test_no_token_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, content: str | None
) -> None:
    monkeypatch.delenv("ONEX_ADMIN_TOKEN", raising=False)
    argv = ["promote", "--url", "http://127.0.0.1:9"]
    if content is not None:
        argv += ["--token-file", str(_token_file(tmp_path, content))]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert ("no admin token" in err) if content is None else ("is empty" in err)


def test_a_missing_token_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope"
    assert main(["promote", "--token-file", str(missing)]) == 2
    assert capsys.readouterr().err == f"error: --token-file: cannot read {missing}: No such file or directory\n"


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("", False), ("off", False)])
def test_onex_standby_sets_the_default(value: str, expected: bool) -> None:
    from onex_host.cli.run import standby_requested

    assert standby_requested(None, {"ONEX_STANDBY": value}) is expected
    assert standby_requested(not expected, {"ONEX_STANDBY": value}) is (not expected)


def test_a_bad_onex_standby_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main_with_env({"ONEX_STANDBY": "maybe"}, ["run", str(write_host(tmp_path, admin_token=ADMIN_TOKEN))])
    assert code == 2
    assert capsys.readouterr().err == "error: ONEX_STANDBY: expected true or false, got 'maybe'\n"


def main_with_env(env: dict[str, str], argv: list[str]) -> int:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        return main(argv)
