"""Exactly-once effects: a command with side effects runs once per envelope id, however often it is delivered.

Kafka delivers at least once: a crash, a kill or a rebalance hands unfinished
commands to the next owner, and during a rebalance two hosts can hold the same
record at once. So for operations declared ``side_effects: idempotent`` or
``external`` the handler writes a key (the request's envelope id) into the
host-owned table ``onex_host_idempotency`` *first*, inside the transaction
that runs the operation's statements, and the reply's payload into that row
last, just before the commit:

* the first delivery inserts the key, runs, stores the payload and commits:
  the effect and the key become visible together; any failure rolls both
  back, so a retried command runs again;
* a later delivery's insert meets the committed row (``ON CONFLICT DO
  NOTHING``) and is answered with the stored payload, rebuilt into a reply to
  *this* request (its own correlation id), without running anything;
* a concurrent delivery's insert waits for the first transaction's
  uncommitted key (PostgreSQL's unique-index wait) and then sees its outcome:
  the committed row, or, after a rollback, no row, and then it runs itself.

A stored payload answers only the request that produced it: the same envelope
id with another node, operation or request (source node and payload, compared
by SHA-256 digest) is refused as ``invalid_envelope``, never answered with
someone else's result and never run. Only success payloads are stored, which
are what the host publishes anyway: failures roll the key back, and nothing
of the handler's config reaches the table.

Rows expire ``retention_seconds`` after they were written, and never before
their envelope's own TTL runs out (an expired envelope is refused before it
reaches a handler, so its key is useless after that). Expired rows are purged
in bounded batches by a background task that a keyed operation starts at most
once per ``purge_interval_seconds``; a host that runs no keyed operation (a
shadow host runs only ``side_effects: none``) never writes to the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from onex_host.core.enums import EnumErrorCode, EnumSideEffects
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.errors import OperationError
from onex_host.core.operation import OperationContext
from onex_host.infra.handlers.db.config import DbIdempotencyConfig

logger = logging.getLogger(__name__)

TABLE = "onex_host_idempotency"
"""Created by migrations/postgres/0002_onex_host_idempotency.sql, never by the handler."""

_CLAIM = f"""
INSERT INTO {TABLE} (envelope_id, scope, node_slug, operation, request_digest, expires_at)
VALUES ($1, $2, $3, $4, $5, greatest(now() + make_interval(secs => $6), $7))
ON CONFLICT (envelope_id, scope) DO NOTHING
"""  # noqa: S608  (the table name is a constant)
_STORED = f"""
SELECT node_slug, operation, request_digest, reply_payload FROM {TABLE} WHERE envelope_id = $1 AND scope = $2
"""  # noqa: S608
_RECORD = f"UPDATE {TABLE} SET reply_payload = $3 WHERE envelope_id = $1 AND scope = $2"  # noqa: S608
_PURGE = f"""
DELETE FROM {TABLE} WHERE (envelope_id, scope) IN (
    SELECT envelope_id, scope FROM {TABLE} WHERE expires_at < now()
    ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
)
"""  # noqa: S608

ENVELOPE_ID_REUSED = "envelope_id_reused"


def request_digest(envelope: ModelOnexEnvelope) -> bytes:
    """SHA-256 of what makes two deliveries the same request: its source node and its payload.

    Canonical JSON (sorted keys, no whitespace), so a payload that went
    through another JSON encoder, or a dict built in another key order,
    digests the same. Metadata is left out: it carries routing (``reply_to``)
    and tracing, not what the operation does.
    """
    canonical = json.dumps(
        {"source_node": envelope.source_node, "payload": envelope.payload},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).digest()


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """One command's key: its envelope id in a scope, and what it must match to be answered from the table."""

    envelope_id: UUID
    scope: str
    """'' for an envelope sent to one node; the node's slug for each node a broadcast runs on."""
    node_slug: str
    operation: str
    digest: bytes
    envelope_expires_at: datetime | None

    @classmethod
    def of(cls, context: OperationContext) -> IdempotencyKey | None:
        """The key of the request in ``context``, or None when it needs none (read-only, or no envelope)."""
        envelope = context.envelope
        if envelope is None or context.spec.side_effects is EnumSideEffects.NONE:
            return None
        return cls(
            envelope_id=envelope.envelope_id,
            scope="" if envelope.target_node is not None else context.node_slug,
            node_slug=context.node_slug,
            operation=context.operation,
            digest=request_digest(envelope),
            envelope_expires_at=envelope.expires_at,
        )

    def refusal(self, node_slug: str, operation: str, digest: bytes) -> str | None:
        """Why a stored row may not answer this request (it was another command), or None if it may."""
        if (node_slug, operation) != (self.node_slug, self.operation):
            return "another node or operation"
        if digest != self.digest:
            return "another payload or source node"
        return None


class IdempotencyLedger:
    """The db handler's side of ``onex_host_idempotency``: claim, record, answer redeliveries, purge.

    Counts what it did (``details`` is shown on ``/health``): replayed
    redeliveries, refused envelope-id reuses, purged rows. Nothing here runs
    for a read-only operation.
    """

    def __init__(self, config: DbIdempotencyConfig, statement_timeout_seconds: float) -> None:
        self._config = config
        self._timeout = statement_timeout_seconds
        self._last_purge: float | None = None
        self._purge_task: asyncio.Task[None] | None = None
        self.replayed = 0
        self.refused = 0
        self.purged = 0

    @property
    def enabled(self) -> bool:
        return self._config.enabled

    def key_for(self, context: OperationContext) -> IdempotencyKey | None:
        return IdempotencyKey.of(context) if self._config.enabled else None

    def details(self) -> dict[str, Any]:
        return {
            "enabled": self._config.enabled,
            "replayed": self.replayed,
            "refused": self.refused,
            "purged": self.purged,
        }

    async def claim(self, conn: asyncpg.Connection, key: IdempotencyKey, context: OperationContext) -> Any:
        """Insert ``key`` in the caller's open transaction; the stored payload if the command already ran, else None.

        Blocks while another transaction holds the same key uncommitted.
        Raises ``OperationError`` when the key belongs to another command.
        """
        timeout = context.timeout(self._timeout)
        try:
            status = await conn.execute(
                _CLAIM,
                key.envelope_id,
                key.scope,
                key.node_slug,
                key.operation,
                key.digest,
                float(self._config.retention_seconds),
                key.envelope_expires_at,
                timeout=timeout,
            )
        except asyncpg.exceptions.UndefinedTableError:
            raise OperationError(
                EnumErrorCode.UPSTREAM_UNAVAILABLE,
                f"the db handler's idempotency table {TABLE} does not exist: apply migrations/postgres "
                "(0002_onex_host_idempotency.sql), or set idempotency.enabled: false in the db handler config",
            ) from None
        if status.endswith(" 1"):
            return None
        row = await conn.fetchrow(_STORED, key.envelope_id, key.scope, timeout=timeout)
        if row is None or row["reply_payload"] is None:  # a committed key always carries its reply
            raise OperationError(EnumErrorCode.INTERNAL_ERROR, f"{TABLE} holds no reply for envelope {key.envelope_id}")
        where = {"node": context.node_slug, "operation": context.operation, "envelope_id": str(key.envelope_id)}
        refusal = key.refusal(row["node_slug"], row["operation"], bytes(row["request_digest"]))
        if refusal is not None:
            self.refused += 1
            logger.warning(
                "db command refused: its envelope id was already used for another command",
                extra={**where, "reason": ENVELOPE_ID_REUSED, "used_for": refusal},
            )
            raise OperationError(
                EnumErrorCode.INVALID_ENVELOPE,
                f"envelope_id {key.envelope_id} was already used for another command ({refusal}); "
                "it was not run: a new command needs a new envelope_id",
                {"reason": ENVELOPE_ID_REUSED},
            )
        self.replayed += 1
        logger.info(
            "db command answered from the idempotency table, not run again",
            extra={**where, "reason": "redelivery"},
        )
        return row["reply_payload"]

    async def record(
        self, conn: asyncpg.Connection, key: IdempotencyKey, payload: dict[str, Any], context: OperationContext
    ) -> None:
        """Store the reply's payload on the claimed key, in the same transaction as the operation."""
        await conn.execute(_RECORD, key.envelope_id, key.scope, payload, timeout=context.timeout(self._timeout))

    # -- retention ------------------------------------------------------------------------

    def purge_soon(self, connect: Callable[[], Awaitable[asyncpg.Pool]]) -> None:
        """Start a background purge unless one ran within ``purge_interval_seconds`` or is still running."""
        now = time.monotonic()
        if self._purge_task is not None and not self._purge_task.done():
            return
        if self._last_purge is not None and now - self._last_purge < self._config.purge_interval_seconds:
            return
        self._last_purge = now
        self._purge_task = asyncio.create_task(self._purge_logged(connect), name="onex-db-idempotency-purge")

    async def _purge_logged(self, connect: Callable[[], Awaitable[asyncpg.Pool]]) -> None:
        try:
            pool = await connect()
            async with pool.acquire() as conn:
                await self.purge_expired(conn)
        except Exception as exc:  # the next keyed operation tries again; commands are unaffected
            sqlstate = getattr(exc, "sqlstate", None)
            logger.warning(
                "idempotency purge failed",
                extra={"table": TABLE, "error": type(exc).__name__, **({"sqlstate": sqlstate} if sqlstate else {})},
            )

    async def purge_expired(self, conn: asyncpg.Connection) -> int:
        """Delete expired keys, ``purge_batch_size`` per statement (each its own short transaction), until none is left.

        ``SKIP LOCKED`` lets purges of several hosts share the work without
        waiting for each other; the loop ends because new rows are never
        already expired.
        """
        total = 0
        batch = self._config.purge_batch_size
        while True:
            status = await conn.execute(_PURGE, batch, timeout=self._timeout)
            deleted = int(status.rsplit(" ", 1)[-1])
            total += deleted
            self.purged += deleted
            if deleted < batch:
                break
        if total:
            logger.info("idempotency keys purged", extra={"table": TABLE, "purged": total})
        return total

    async def close(self) -> None:
        task, self._purge_task = self._purge_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
