"""PostgreSQL helpers for tests: a table of their own, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


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
