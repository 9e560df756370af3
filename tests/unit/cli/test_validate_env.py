"""`onex-host validate --env-file`, `--allow-unset`: validating production contracts in a pipeline without secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from onex_host.cli import main

REPOSITORY = Path(__file__).resolve().parents[3]
PRODUCTION = REPOSITORY / "contracts" / "runtime" / "infra_runtime_host.yaml"
ENV_EXAMPLE = REPOSITORY / "deploy" / "compose" / ".env.example"
# What the production contract interpolates without a default.
REQUIRED = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "POSTGRES_HOST",
    "POSTGRES_DB",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "VAULT_ADDR",
    "VAULT_TOKEN",
)
COMPLETE = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka-0:9092,kafka-1:9092",
    "POSTGRES_HOST": "db.internal",
    "POSTGRES_DB": "onex",
    "POSTGRES_USER": "onex",
    "POSTGRES_PASSWORD": "pw",
    "VAULT_ADDR": "https://vault.internal:8200",
    "VAULT_TOKEN": "hvs.example",
}


@pytest.fixture(autouse=True)
def no_secrets_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*REQUIRED, "POSTGRES_PORT", "ONEX_AUTO_OFFSET_RESET", "ONEX_BUS_MODE"):
        monkeypatch.delenv(name, raising=False)


def env_file(tmp_path: Path, values: dict[str, str], name: str = "ci.env") -> Path:
    path = tmp_path / name
    path.write_text("# written by the test\n\n" + "".join(f"{key}={value}\n" for key, value in values.items()))
    return path


def test_without_secrets_the_production_contract_fails_on_every_required_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", str(PRODUCTION)]) == 2
    err = capsys.readouterr().err
    for name in REQUIRED:
        assert f"${{{name}}} is not set and has no default" in err


def test_env_file_supplies_the_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--env-file", str(env_file(tmp_path, COMPLETE)), str(PRODUCTION)]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {PRODUCTION} (infra_runtime_host: 3 nodes;")


def test_later_env_files_and_any_file_win_over_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "not a host and port")
    first = env_file(tmp_path, {**COMPLETE, "VAULT_ADDR": "not-a-url"}, "first.env")
    second = env_file(tmp_path, {"VAULT_ADDR": COMPLETE["VAULT_ADDR"]}, "second.env")
    assert main(["validate", "--env-file", str(first), "--env-file", str(second), str(PRODUCTION)]) == 0
    capsys.readouterr()


def test_the_compose_env_example_validates_listing_what_compose_yaml_sets_itself(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", "--allow-unset", "--env-file", str(ENV_EXAMPLE), str(PRODUCTION)]) == 0
    lines = capsys.readouterr().out.splitlines()
    unset = sorted(line.split("${")[1].split("}")[0] for line in lines if line.startswith("unset: "))
    # .env.example holds the secrets and ports; compose.yaml gives the host the addresses.
    assert unset == sorted(set(REQUIRED) - {"POSTGRES_PASSWORD"})
    assert (
        lines[-1]
        == f"ok: {PRODUCTION} (infra_runtime_host: 3 nodes; handlers: http, db, vault, consul; event bus: kafka)"
    )


def test_allow_unset_without_any_secret_still_runs_every_other_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--allow-unset", str(PRODUCTION)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len([line for line in out if line.startswith("unset: ")]) == len(REQUIRED)
    assert out[-1].endswith("handlers: http, db, vault, consul; event bus: kafka)")


def test_allow_unset_keeps_failing_real_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contract = tmp_path / "host.yaml"
    contract.write_text(
        "name: h\n"
        "handlers:\n"
        "  - handler_type: db\n"
        "    config: {host: '${DB_HOST}', database: onex, user: u, password: '${DB_PASSWORD}', pool_max_size: 0}\n"
        "mystery: 1\n"
    )
    assert main(["validate", "--allow-unset", str(contract)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert any(line.endswith("mystery: unknown field") for line in err), err
    assert not any("DB_HOST" in line or "DB_PASSWORD" in line for line in err), err


def test_allow_unset_does_not_excuse_a_wrong_value_that_is_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = env_file(tmp_path, {"KAFKA_BOOTSTRAP_SERVERS": "kafka-without-port"})
    assert main(["validate", "--allow-unset", "--env-file", str(bad), str(PRODUCTION)]) == 2
    assert "event_bus.config.bootstrap_servers" in capsys.readouterr().err


def test_a_default_still_applies_under_allow_unset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contract = tmp_path / "host.yaml"
    contract.write_text(
        "name: h\nhandlers:\n  - handler_type: db\n"
        "    config: {host: '${DB_HOST}', port: '${DB_PORT:-5432}', database: onex, user: u, password: p}\n"
    )
    assert main(["validate", "--allow-unset", str(contract)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("unset: ")] == [
        f"unset: {contract.resolve()}: handlers[0].config.host: ${{DB_HOST}} is not set and has no default"
    ]


def test_an_env_file_line_without_a_value_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.env"
    path.write_text("# fine\nKAFKA_BOOTSTRAP_SERVERS kafka:9092\n")
    assert main(["validate", "--env-file", str(path), str(PRODUCTION)]) == 2
    assert capsys.readouterr().err == f"error: {path}: line 2: expected KEY=VALUE\n"


def test_a_missing_env_file_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "missing.env"
    assert main(["validate", "--env-file", str(path), str(PRODUCTION)]) == 2
    assert capsys.readouterr().err == f"error: {path}: (file): env file not found\n"


def test_quotes_and_export_are_read_as_compose_reads_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "quoted.env"
    lines = [
        f'export {key}="{value}"' if i % 2 else f"{key}='{value}'" for i, (key, value) in enumerate(COMPLETE.items())
    ]
    path.write_text("\n".join(lines) + "\n")
    assert main(["validate", "--env-file", str(path), str(PRODUCTION)]) == 0
    capsys.readouterr()
