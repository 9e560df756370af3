"""The read-write and read-only connection pools, and the one reconnect after a dropped connection.

Operations declared ``side_effects: none`` run on a second pool whose
sessions are ``default_transaction_read_only``, so a mislabelled write fails
(SQLSTATE 25006) instead of running on a shadow host, without a
``BEGIN READ ONLY``/``COMMIT`` pair per request. Each pool is created on first
use (up to ``pool_max_size`` connections each), so the host starts while
PostgreSQL is down; connections the server dropped are replaced by the pool on
the next request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import asyncpg

from onex_host.core.enums import EnumSideEffects
from onex_host.core.operation import OperationContext
from onex_host.infra.handlers.db.config import DbHandlerConfig
from onex_host.infra.handlers.db.errors import CONNECTION_LOST
from onex_host.infra.handlers.db.prepared import Attempt

T = TypeVar("T")
logger = logging.getLogger(__name__)


class DbPools:
    def __init__(self, config: DbHandlerConfig) -> None:
        self._config = config
        self._pools: dict[bool, asyncpg.Pool] = {}  # keyed by read-only
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        for pool in pools:
            try:
                await asyncio.wait_for(pool.close(), timeout=self._config.statement_timeout_seconds)
            except TimeoutError:
                pool.terminate()

    def existing(self, readonly: bool) -> asyncpg.Pool | None:
        return self._pools.get(readonly)

    async def ready(self, readonly: bool = False) -> asyncpg.Pool:
        """The (read-only or read-write) pool, created on first use so the host can start while PostgreSQL is down."""
        pool = self._pools.get(readonly)
        if pool is not None:
            return pool
        async with self._lock:
            if readonly not in self._pools:
                config = self._config
                settings = {"application_name": config.application_name}
                if readonly:
                    settings["default_transaction_read_only"] = "on"
                self._pools[readonly] = await asyncpg.create_pool(
                    dsn=config.dsn.get_secret_value() if config.dsn else None,
                    host=config.host,
                    port=config.port,
                    database=config.database,
                    user=config.user,
                    password=config.password.get_secret_value() if config.password else None,
                    min_size=config.pool_min_size,
                    max_size=config.pool_max_size,
                    timeout=config.connect_timeout_seconds,
                    init=_init_connection,
                    server_settings=settings,
                )
            return self._pools[readonly]

    async def with_connection(
        self,
        context: OperationContext,
        work: Callable[[asyncpg.Connection, Attempt], Awaitable[T]],
        *,
        transaction: bool = False,
    ) -> T:
        """Run ``work`` on a pooled connection, retrying once on a connection found dead.

        The pool cannot tell that the server dropped an idle connection until
        it is used, so the first request after a restart or a
        ``pg_terminate_backend`` meets a dead one. That request is retried on
        a fresh connection when that cannot repeat a write: nothing was sent
        yet, or the operation is read-only.
        """
        readonly = context.spec.side_effects is EnumSideEffects.NONE
        attempt = Attempt()
        while True:
            try:
                async with self._connection(context, transaction=transaction, readonly=readonly) as conn:
                    return await work(conn, attempt)
            except CONNECTION_LOST as exc:
                if attempt.retried or (attempt.statement_sent and not readonly):
                    raise
                logger.warning(
                    "db connection lost; retrying on a fresh connection",
                    extra={"node": context.node_slug, "operation": context.operation, "error": type(exc).__name__},
                )
                attempt = Attempt(retried=True)

    @asynccontextmanager
    async def _connection(
        self, context: OperationContext, *, transaction: bool, readonly: bool
    ) -> AsyncIterator[asyncpg.Connection]:
        async with asyncio.timeout(context.timeout(self._config.connect_timeout_seconds)):
            pool = await self.ready(readonly)
            conn = await pool.acquire()
        try:
            if transaction:
                async with conn.transaction(readonly=readonly):
                    yield conn
            else:
                yield conn
        finally:
            await pool.release(conn)


async def _init_connection(conn: asyncpg.Connection) -> None:
    """json/jsonb travel as JSON values, not as strings holding JSON."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
