"""PostgreSQL helpers for tests: the repository's schema, and a table of their own, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations" / "postgres"


async def apply_migrations(dsn: str) -> list[str]:
    """Apply ``migrations/postgres`` in order, each in a transaction: the schema every deployment gets.

    The deployments run ``apply.sh`` with psql (tests/appliance/test_migrations.py
    runs it too); the session's database gets the same files through asyncpg,
    so no test depends on psql being installed. Every migration is written to
    be re-applied safely, so this is run once per session, whatever ran before.
    Returns the versions applied.
    """
    versions = []
    conn = await asyncpg.connect(dsn)
    try:
        for path in sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql")):
            async with conn.transaction():
                await conn.execute(path.read_text())
            versions.append(path.stem)
    finally:
        await conn.close()
    return versions


@asynccontextmanager
async def scratch_table(dsn: str, prefix: str, columns: str, *setup: str) -> AsyncIterator[str]:
    """Create ``<prefix>_<random>`` with ``columns`` (and run ``setup`` statements, ``{table}`` filled in),
    yield its name, drop it: tests never see each other's rows."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE TABLE {name} ({columns})")
        for statement in setup:
            await conn.execute(statement.format(table=name))
        yield name
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {name}")
        await conn.close()
