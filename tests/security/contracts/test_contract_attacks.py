"""Contracts that ``run`` would refuse are refused by ``validate`` first: one line per problem, exit 2.

Each case is a contract a user (or an attacker who can propose one) could
write; ``validate`` must say what is wrong and where, never hang, never print
a traceback and never echo a secret value.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.support.builders.host_process import ONEX_HOST

NODES = Path(__file__).resolve().parents[3] / "contracts" / "nodes"
SECRET = "canary-secret-5f2a"

HOST = """\
name: probe
environment: test
contracts_directory: {nodes}
nodes:
  - slug: echo
    contract_path: echo.yaml
handlers:
  - handler_type: local
{extra_handlers}
health_endpoint:
  path: {health_path}
"""


def _validate(path: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ONEX_HOST), "validate", str(path)], capture_output=True, text=True, timeout=timeout, check=False
    )


def _write(tmp_path: Path, extra_handlers: str = "", health_path: str = "/health") -> Path:
    path = tmp_path / "host.yaml"
    path.write_text(HOST.format(nodes=NODES, extra_handlers=extra_handlers, health_path=health_path))
    return path


def _assert_one_clean_refusal(result: subprocess.CompletedProcess[str], field: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line]
    assert lines, result
    assert all(line.startswith("error: ") for line in lines), result.stderr
    assert any(field in line for line in lines), result.stderr


def test_a_valid_contract_passes(tmp_path: Path) -> None:
    result = _validate(_write(tmp_path))

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", ["health", "/he alth", "/health?x=1", ""])
def test_an_endpoint_path_run_could_not_serve_is_refused(tmp_path: Path, path: str) -> None:
    _assert_one_clean_refusal(_validate(_write(tmp_path, health_path=repr(path))), "health_endpoint.path")


@pytest.mark.parametrize(
    ("handler", "field"),
    [
        ("{handler_type: vault, config: {url: 'http://[::1', token: t0ken}}", "config.url"),
        ("{handler_type: vault, config: {url: 'vault:8200', token: t0ken}}", "config.url"),
        ("{handler_type: consul, config: {url: 'http://host:port'}}", "config.url"),
        ("{handler_type: llm, config: {base_url: 'ftp://x/v1', model: m}}", "config.base_url"),
        ("{handler_type: db, config: {dsn: 'postgresql://u:pa#ss@h/db'}}", "config.dsn"),
        ("{handler_type: db, config: {dsn: 'postgresql://u:p@ss@h/db'}}", "config.dsn"),
        ("{handler_type: http, config: {allowed_hosts: ['http://x/']}}", "config.allowed_hosts"),
    ],
)
def test_a_handler_url_run_could_not_use_is_refused(tmp_path: Path, handler: str, field: str) -> None:
    _assert_one_clean_refusal(_validate(_write(tmp_path, extra_handlers=f"  - {handler}")), field)


@pytest.mark.parametrize(
    "variant", [f"{SECRET}\\n", f" {SECRET}", f"{SECRET}\\t", f"{SECRET}\\r\\n", f"{SECRET}\\u0000x"]
)
@pytest.mark.parametrize(
    ("template", "field"),
    [
        ('{{handler_type: vault, config: {{url: "http://127.0.0.1:8200", token: "{value}"}}}}', "config.token"),
        ('{{handler_type: consul, config: {{token: "{value}"}}}}', "config.token"),
        ('{{handler_type: llm, config: {{base_url: "http://x/v1", model: m, api_key: "{value}"}}}}', "config.api_key"),
        ('{{handler_type: db, config: {{password: "{value}"}}}}', "config.password"),
    ],
)
def test_a_secret_with_whitespace_or_control_characters_is_refused_without_showing_it(
    tmp_path: Path, template: str, field: str, variant: str
) -> None:
    result = _validate(_write(tmp_path, extra_handlers="  - " + template.format(value=variant)))

    _assert_one_clean_refusal(result, field)
    assert SECRET not in result.stderr + result.stdout


def test_a_billion_laughs_contract_is_refused_at_once(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for index in range(1, 10):
        previous = chr(ord("a") + index - 1)
        name = chr(ord("a") + index)
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    path = tmp_path / "host.yaml"
    path.write_text("\n".join(lines) + "\nname: x\n")
    started = time.monotonic()

    result = _validate(path, timeout=20)

    _assert_one_clean_refusal(result, "(yaml)")
    assert "aliases" in result.stderr
    assert time.monotonic() - started < 15


def test_an_oversized_contract_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "host.yaml"
    path.write_text("name: x\ndescription: '" + "x" * (2 * 1024 * 1024) + "'\n")

    _assert_one_clean_refusal(_validate(path), "(file)")


def test_a_raw_sql_operation_on_a_host_that_forbids_raw_sql_fails_validate(tmp_path: Path) -> None:
    (tmp_path / "adhoc.yaml").write_text(
        "name: adhoc\noperations:\n  run:\n    handler_type: db\n    action: query\n    params: {raw_sql: true}\n"
    )
    host = tmp_path / "host.yaml"
    host.write_text(
        f"name: probe\nenvironment: test\ncontracts_directory: {tmp_path}\n"
        "nodes: [{slug: adhoc, contract_path: adhoc.yaml}]\n"
        "handlers: [{handler_type: db, config: {host: 127.0.0.1}}]\n"
    )

    _assert_one_clean_refusal(_validate(host), "params.raw_sql")


def test_run_refuses_what_validate_refuses_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ONEX_HOST), "run", str(_write(tmp_path, health_path="health"))],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    _assert_one_clean_refusal(result, "health_endpoint.path")
