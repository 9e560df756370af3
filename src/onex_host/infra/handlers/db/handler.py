"""``DbHandler``: PostgreSQL statements through asyncpg pools.

The package splits the handler by job: ``statements`` decides which SQL an
operation may run (declared in the contract, raw SQL only where both the
contract and the host allow it), ``prepared`` runs one statement and keeps
what its first run learned, ``pools`` owns the read-write and read-only
pools and the one reconnect, ``idempotency`` makes an operation with side
effects run once per envelope id (its key and reply are written in the
operation's own transaction), ``errors`` maps asyncpg's exceptions (with
their SQLSTATE) to error replies, and ``values`` converts between PostgreSQL
values and JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from onex_host.core.contracts import ModelOperationSpec
from onex_host.core.enums import EnumHandlerType
from onex_host.core.errors import OperationError
from onex_host.core.operation import OperationContext
from onex_host.infra.handlers.base import BaseHandler, action
from onex_host.infra.handlers.db.config import DbHandlerConfig
from onex_host.infra.handlers.db.errors import CONNECTION_LOST, connection_failure, postgres_failure
from onex_host.infra.handlers.db.idempotency import IdempotencyLedger
from onex_host.infra.handlers.db.pools import DbPools
from onex_host.infra.handlers.db.prepared import Attempt, PreparedStatements
from onex_host.infra.handlers.db.statements import (
    CONTRACT_KEYS,
    StatementPayload,
    TransactionPayload,
    check_operation_params,
    statement_sql,
    step_sql,
)


class DbHandler(BaseHandler[DbHandlerConfig]):
    handler_type = EnumHandlerType.DB
    config_model = DbHandlerConfig
    contract_keys = CONTRACT_KEYS

    def __init__(self, config: DbHandlerConfig | None = None) -> None:
        super().__init__(config)
        self._pools = DbPools(self.config)
        self._prepared = PreparedStatements(
            statement_timeout_seconds=self.config.statement_timeout_seconds, max_rows=self.config.max_rows
        )
        self._idempotency = IdempotencyLedger(self.config.idempotency, self.config.statement_timeout_seconds)

    @property
    def idempotency(self) -> IdempotencyLedger:
        return self._idempotency

    async def _close(self) -> None:
        await self._idempotency.close()
        self._prepared.clear()
        await self._pools.close()

    async def _probe(self) -> dict[str, Any]:
        async with asyncio.timeout(self.config.connect_timeout_seconds):
            pool = self._pools.existing(readonly=True) or await self._pools.ready()
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
                version = conn.get_server_version()
        return {
            "server_version": f"{version.major}.{version.minor}",
            "pool_size": pool.get_size(),
            "pool_idle": pool.get_idle_size(),
            "pool_max_size": pool.get_max_size(),
            "idempotency": self._idempotency.details(),
        }

    def check_params(self, action: str, spec: ModelOperationSpec) -> str | None:
        return check_operation_params(action, spec, self.config.allow_raw_sql)

    # -- actions --------------------------------------------------------------------

    @action("query", payload=StatementPayload)
    async def _query(self, request: StatementPayload, context: OperationContext) -> dict[str, Any]:
        """Run a row-returning statement; rows come back as JSON objects."""
        sql = statement_sql(context, request.sql, "payload.sql", self.config.allow_raw_sql)

        async def work(conn: asyncpg.Connection, attempt: Attempt) -> dict[str, Any]:
            result = await self._prepared.run(conn, attempt, context, sql, request.args, "payload.args")
            return result.to_json(with_rows=True)

        return await self._run(context, work)

    @action("execute", payload=StatementPayload)
    async def _execute(self, request: StatementPayload, context: OperationContext) -> dict[str, Any]:
        """Run a command; reply with its status and affected row count (and RETURNING rows)."""
        sql = statement_sql(context, request.sql, "payload.sql", self.config.allow_raw_sql)

        async def work(conn: asyncpg.Connection, attempt: Attempt) -> dict[str, Any]:
            result = await self._prepared.run(conn, attempt, context, sql, request.args, "payload.args")
            return result.to_json(with_rows=bool(result.columns))

        return await self._run(context, work)

    @action("transaction", payload=TransactionPayload)
    async def _transaction(self, request: TransactionPayload, context: OperationContext) -> dict[str, Any]:
        """Run the payload's steps in one transaction; any failure rolls every step back."""
        allow_raw = self.config.allow_raw_sql
        plan = [
            (step_sql(context, step, f"payload.steps[{index}]", allow_raw), step)
            for index, step in enumerate(request.steps)
        ]

        async def work(conn: asyncpg.Connection, attempt: Attempt) -> dict[str, Any]:
            results: list[dict[str, Any]] = []
            for index, (sql, step) in enumerate(plan):
                where = f"payload.steps[{index}]"
                try:
                    result = await self._prepared.run(conn, attempt, context, sql, step.args, f"{where}.args")
                except asyncpg.PostgresError as exc:
                    if isinstance(exc, CONNECTION_LOST):
                        raise
                    failure = postgres_failure(exc)
                    raise OperationError(
                        failure.code,
                        f"{where} ({step.statement or 'sql'}): {failure.message}; the transaction was rolled back",
                        {**failure.details, "step": index, "rolled_back": True},
                    ) from None
                results.append({"statement": step.statement, **result.to_json(with_rows=bool(result.columns))})
            return {"results": results, "committed": True}

        return await self._run(context, work, transaction=True)

    async def _run(
        self,
        context: OperationContext,
        work: Callable[[asyncpg.Connection, Attempt], Awaitable[dict[str, Any]]],
        *,
        transaction: bool = False,
    ) -> dict[str, Any]:
        """Run ``work`` on a pooled connection; with side effects, once per envelope id (see ``idempotency``).

        A keyed operation always runs in a transaction: the key is inserted
        first and the reply stored last, so they commit or roll back with the
        operation's own statements.
        """
        key = self._idempotency.key_for(context)
        if key is None:
            return await self._pools.with_connection(context, work, transaction=transaction)
        ledger = self._idempotency

        async def keyed(conn: asyncpg.Connection, attempt: Attempt) -> dict[str, Any]:
            stored = await ledger.claim(conn, key, context)
            if stored is not None:
                answer: dict[str, Any] = stored
                return answer
            payload = await work(conn, attempt)
            await ledger.record(conn, key, payload, context)
            return payload

        payload = await self._pools.with_connection(context, keyed, transaction=True)
        ledger.purge_soon(self._pools.ready)
        return payload

    def translate_error(self, exc: Exception) -> OperationError | None:
        if isinstance(exc, asyncpg.PostgresError):
            return postgres_failure(exc)
        if isinstance(exc, CONNECTION_LOST):
            return connection_failure(exc)
        return None
