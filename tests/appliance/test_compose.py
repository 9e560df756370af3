"""deploy/compose is a valid Compose file, as Compose v2's loader and Debian's docker-compose v1 read it.

No engine is needed for either: Compose v2 (Docker Compose v5) is built on the Go
library compose-go; tests/appliance/compose_v2 is a ten-line program on that
library at the version Docker Compose requires, built here with ``go`` (modules
from the Go module proxy), which prints what ``docker compose config`` would.
Debian has no Compose v2 package for bookworm; its docker-compose 1.29 runs too.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci.service_topology import Topology

from tests.appliance.tooling import REPOSITORY, debian_tool, explain, go_tool, run_tool

pytestmark = pytest.mark.appliance

COMPOSE_FILE = Path("deploy/compose/compose.yaml")
ENV_EXAMPLE = Path("deploy/compose/.env.example")
PROJECT = "onex"
# Services that run to completion before the host starts; every other one is long-running.
ONE_SHOT = {"migrate"}


@pytest.fixture(scope="session")
def compose_v2(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """tests/appliance/compose_v2 built into a binary: Compose v2's loader, offline after the first build."""
    go, environment = go_tool(request.config)
    binary = tmp_path_factory.mktemp("compose-v2") / "compose-v2-config"
    result = run_tool(
        [go, "build", "-mod=readonly", "-buildvcs=false", "-o", str(binary), "."],
        cwd=REPOSITORY / "tests" / "appliance" / "compose_v2",
        env=environment,
        timeout=600,
    )
    assert result.returncode == 0, explain(result)
    return str(binary)


def compose_v2_config(binary: str, env_file: Path) -> subprocess.CompletedProcess[str]:
    """`docker compose --env-file ENV -f compose.yaml -p onex config --format json`, by Compose v2's loader."""
    return run_tool([binary, str(env_file), str(COMPOSE_FILE), PROJECT], env={})


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
    without_healthcheck = sorted(
        name for name, service in services.items() if "healthcheck" not in service and name not in ONE_SHOT
    )
    assert without_healthcheck == []
    waits_for = services["onex-host"]["depends_on"]
    backing = sorted(name for name in services if name != "onex-host")
    assert sorted(waits_for) == backing
    conditions = {name: dependency["condition"] for name, dependency in waits_for.items()}
    assert conditions == {
        name: "service_completed_successfully" if name in ONE_SHOT else "service_healthy" for name in backing
    }


def test_compose_v2_loads_the_file_with_the_documented_env(compose_v2: str) -> None:
    result = compose_v2_config(compose_v2, ENV_EXAMPLE)
    assert result.returncode == 0, explain(result)
    assert json.loads(result.stdout)["name"] == PROJECT


def test_without_an_env_file_compose_v2_refuses_and_names_the_missing_token(compose_v2: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose_v2_config(compose_v2, empty)
    assert result.returncode != 0, explain(result)
    assert "set ONEX_API_TOKEN in deploy/compose/.env" in result.stderr, explain(result)


def test_compose_v2_and_v1_read_the_same_services(request: pytest.FixtureRequest, compose_v2: str) -> None:
    """Same services, images, commands, environment and start order, whichever Compose runs the file."""
    result = compose_v2_config(compose_v2, ENV_EXAMPLE)
    assert result.returncode == 0, explain(result)
    v2 = json.loads(result.stdout)["services"]
    v1 = render_compose(request.config, ENV_EXAMPLE)["services"]
    assert set(v2) == set(v1)
    for name in v1:
        for key in ("image", "command", "read_only", "cap_drop", "security_opt"):
            assert v2[name].get(key) == v1[name].get(key), (name, key)
        assert {k: str(v) for k, v in (v2[name].get("environment") or {}).items()} == {
            k: str(v) for k, v in (v1[name].get("environment") or {}).items()
        }, name
        conditions = {dep: spec["condition"] for dep, spec in (v2[name].get("depends_on") or {}).items()}
        assert conditions == {dep: spec["condition"] for dep, spec in (v1[name].get("depends_on") or {}).items()}


def test_the_schema_is_migrated_by_the_repository_script_before_the_host_starts(
    compose_v2: str, topology: Topology
) -> None:
    result = compose_v2_config(compose_v2, ENV_EXAMPLE)
    assert result.returncode == 0, explain(result)
    services = json.loads(result.stdout)["services"]
    migrate = services["migrate"]
    postgres = topology.services["postgres"]
    assert migrate["image"] == postgres.image
    assert migrate["command"] == ["sh", "/migrations/apply.sh", "/migrations"]
    (volume,) = migrate["volumes"]
    assert (Path(volume["source"]), volume["target"], volume.get("read_only")) == (
        REPOSITORY / "migrations" / "postgres",
        "/migrations",
        True,
    )
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    host = services["onex-host"]["environment"]
    assert {name: migrate["environment"][f"PG{name}"] for name in ("HOST", "PORT", "DATABASE", "USER", "PASSWORD")} == {
        "HOST": host["POSTGRES_HOST"],
        "PORT": host["POSTGRES_PORT"],
        "DATABASE": host["POSTGRES_DB"],
        "USER": host["POSTGRES_USER"],
        "PASSWORD": host["POSTGRES_PASSWORD"],
    }, "the migration must reach the database the host uses"


def test_the_host_container_is_hardened_and_published_on_loopback_only(request: pytest.FixtureRequest) -> None:
    host = render_compose(request.config, ENV_EXAMPLE)["services"]["onex-host"]
    assert host["read_only"] is True
    assert host["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in host["security_opt"]
    assert all(str(port).startswith("127.0.0.1:") for port in host["ports"]), host["ports"]
