"""deploy/compose is a valid Compose file, as Debian's docker-compose (no engine needed) reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.appliance.tooling import debian_tool, explain, run_tool

pytestmark = pytest.mark.appliance

COMPOSE_FILE = Path("deploy/compose/compose.yaml")
ENV_EXAMPLE = Path("deploy/compose/.env.example")


def render_compose(config: pytest.Config, env_file: Path) -> dict[str, Any]:
    """``docker-compose config``: the file after interpolation, merges and normalisation."""
    docker_compose = debian_tool(config, "docker-compose")
    result = run_tool([docker_compose, "--file", str(COMPOSE_FILE), "--env-file", str(env_file), "config"])
    assert result.returncode == 0, explain(result)
    rendered = yaml.safe_load(result.stdout)
    assert isinstance(rendered, dict), explain(result)
    return rendered


def test_compose_file_is_valid_with_the_documented_env(request: pytest.FixtureRequest) -> None:
    docker_compose = debian_tool(request.config, "docker-compose")
    result = run_tool(
        [docker_compose, "--file", str(COMPOSE_FILE), "--env-file", str(ENV_EXAMPLE), "config", "--quiet"]
    )
    assert result.returncode == 0, explain(result)


def test_without_an_env_file_compose_refuses_and_names_the_missing_token(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Every other variable has a development default; the envelope API's token must be chosen."""
    docker_compose = debian_tool(request.config, "docker-compose")
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = run_tool([docker_compose, "--file", str(COMPOSE_FILE), "--env-file", str(empty), "config", "--quiet"])
    assert result.returncode != 0, explain(result)
    assert "set ONEX_API_TOKEN in deploy/compose/.env" in result.stderr, explain(result)


def test_every_service_has_a_healthcheck_and_the_host_waits_for_them(request: pytest.FixtureRequest) -> None:
    services = render_compose(request.config, ENV_EXAMPLE)["services"]
    without_healthcheck = sorted(name for name, service in services.items() if "healthcheck" not in service)
    assert without_healthcheck == []
    waits_for = services["onex-host"]["depends_on"]
    backing = sorted(name for name in services if name != "onex-host")
    assert sorted(waits_for) == backing
    assert {dependency["condition"] for dependency in waits_for.values()} == {"service_healthy"}


def test_the_host_container_is_hardened_and_published_on_loopback_only(request: pytest.FixtureRequest) -> None:
    host = render_compose(request.config, ENV_EXAMPLE)["services"]["onex-host"]
    assert host["read_only"] is True
    assert host["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in host["security_opt"]
    assert all(str(port).startswith("127.0.0.1:") for port in host["ports"]), host["ports"]
