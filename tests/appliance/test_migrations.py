"""The PostgreSQL schema the node contracts need: versioned in migrations/postgres, applied by one script.

The script is applied here to the real PostgreSQL of the test session, twice,
and the postgres_adapter node then runs on the result, loaded from its contract.
Compose and Kubernetes run the same script over the same files
(test_compose.py, test_k8s_manifests.py check that they do).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from onex_host.core import EnumHandlerType, ModelOnexEnvelope, load_host
from onex_host.infra.wiring import register_handlers
from onex_host.runtime import NodeRuntime
from tests.appliance.tooling import REPOSITORY, debian_tool, explain, run_tool

pytestmark = [pytest.mark.appliance, pytest.mark.postgres]

MIGRATIONS = REPOSITORY / "migrations" / "postgres"
APPLY = MIGRATIONS / "apply.sh"


def migration_files() -> list[Path]:
    return sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def test_migrations_are_numbered_without_gaps() -> None:
    numbers = [int(path.name[:4]) for path in migration_files()]
    assert numbers == list(range(1, len(numbers) + 1)), numbers


@pytest.fixture
async def fresh_database(postgres_service: Any) -> AsyncIterator[str]:
    name = f"onex_migrate_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_service.dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _apply(config: pytest.Config, postgres_service: Any, database: str) -> str:
    psql = debian_tool(config, "psql")
    environment = {
        "PATH": f"{Path(psql).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PGHOST": postgres_service.host,
        "PGPORT": str(postgres_service.port),
        "PGDATABASE": database,
        "PGUSER": postgres_service.user,
        "PGPASSWORD": postgres_service.password or "",
    }
    result = run_tool(["sh", str(APPLY)], env=environment)
    assert result.returncode == 0, explain(result)
    return result.stdout


async def test_applying_twice_applies_each_migration_once_and_the_postgres_adapter_runs(
    request: pytest.FixtureRequest, postgres_service: Any, fresh_database: str
) -> None:
    versions = [path.stem for path in migration_files()]
    first = _apply(request.config, postgres_service, fresh_database)
    second = _apply(request.config, postgres_service, fresh_database)
    assert [f"migrate: applying {version}" for version in versions] == [
        line for line in first.splitlines() if line.startswith("migrate:")
    ]
    assert [f"migrate: {version} already applied" for version in versions] == [
        line for line in second.splitlines() if line.startswith("migrate:")
    ]
    connection = await asyncpg.connect(postgres_service.dsn, database=fresh_database)
    try:
        recorded = [row["version"] for row in await connection.fetch("SELECT version FROM onex_schema_migrations")]
    finally:
        await connection.close()
    assert sorted(recorded) == versions

    environment = {
        "POSTGRES_HOST": postgres_service.host,
        "POSTGRES_PORT": str(postgres_service.port),
        "POSTGRES_DB": fresh_database,
        "POSTGRES_USER": postgres_service.user,
        "POSTGRES_PASSWORD": postgres_service.password or "unused",
        "VAULT_ADDR": "http://127.0.0.1:9",
        "VAULT_TOKEN": "unused",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
    }
    host = load_host(REPOSITORY / "contracts" / "runtime" / "infra_runtime_host.yaml", env=environment)
    runtime = NodeRuntime()
    register_handlers(runtime, host.contract, str(host.path))
    runtime.add_nodes(host.nodes)
    await runtime.initialize()
    try:
        replies = []
        for operation, payload in (
            ("upsert_registration", {"args": ["vault_adapter", "effect", "1.0.0", "http://vault"]}),
            ("get_registration", {"args": ["vault_adapter"]}),
            (
                "record_heartbeat",
                {
                    "steps": [
                        {"statement": "touch", "args": ["vault_adapter"]},
                        {"statement": "log", "args": ["vault_adapter", "ok"]},
                    ]
                },
            ),
        ):
            envelope = ModelOnexEnvelope(
                source_node="test",
                target_node="postgres_adapter",
                handler_type=EnumHandlerType.DB,
                operation=operation,
                payload=payload,
            )
            replies.append(await runtime.route_envelope(envelope))
    finally:
        await runtime.shutdown()
    assert [reply.success for reply in replies] == [True, True, True], [reply.error for reply in replies]
    assert replies[1].payload["rows"][0]["slug"] == "vault_adapter"
