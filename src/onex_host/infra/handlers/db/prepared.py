"""Running one statement: prepared on its first run, then through asyncpg's statement cache.

Every statement is prepared the first time its SQL text runs (one statement
per call, which refuses a multi-statement string), bound with parameters
(never formatted in) and given a timeout that respects the envelope's TTL.
What the first run learns (parameter types, columns, command tag) is kept per
SQL text, so later runs go through asyncpg's per-connection statement cache
in one round trip.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from onex_host.core.enums import EnumErrorCode
from onex_host.core.errors import OperationError
from onex_host.core.operation import OperationContext
from onex_host.infra.handlers.db.errors import is_bad_argument
from onex_host.infra.handlers.db.values import JsonSafe, row_to_json, to_pg_args

_SHAPE_CACHE_SIZE = 1024


@dataclass(slots=True)
class Attempt:
    """Whether a statement of this request may already have run on the server."""

    retried: bool = False
    statement_sent: bool = False


class StatementResult:
    __slots__ = ("columns", "rows", "status")

    def __init__(self, rows: list[asyncpg.Record], status: str, columns: list[str]) -> None:
        self.rows = rows
        self.status = status
        self.columns = columns

    @property
    def row_count(self) -> int:
        """Rows affected (INSERT/UPDATE/DELETE/...) or returned, from the command tag."""
        last = self.status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else len(self.rows)

    def to_json(self, with_rows: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "row_count": self.row_count}
        if with_rows:
            rows: list[dict[str, JsonSafe]] = [row_to_json(row) for row in self.rows]
            out.update(columns=self.columns, rows=rows)
        return out


@dataclass(frozen=True, slots=True)
class _StatementShape:
    """What one successful prepared run taught about a SQL text.

    Dropped on any PostgreSQL error for that text, and the column list follows
    the rows when asyncpg re-prepares after a schema change; an empty result
    right after such a change still reports the previous column list.
    """

    types: list[str]
    columns: list[str]
    tag: str | None  # command tag with its row count cut off ("SELECT", "INSERT 0"), for row-returning SQL

    @classmethod
    def learn(cls, statement: asyncpg.prepared_stmt.PreparedStatement) -> _StatementShape:
        columns = [attribute.name for attribute in statement.get_attributes()]
        head, _, count = statement.get_statusmsg().rpartition(" ")
        return cls(
            types=[parameter.name for parameter in statement.get_parameters()],
            columns=columns,
            tag=head if columns and head and count.isdigit() else None,
        )


class PreparedStatements:
    """The learned shapes of the SQL texts this handler ran, least recently learned out first.

    Raw SQL on dev hosts must not grow the cache forever, hence the bound.
    """

    def __init__(self, *, statement_timeout_seconds: float, max_rows: int) -> None:
        self._timeout = statement_timeout_seconds
        self._max_rows = max_rows
        self._shapes: OrderedDict[str, _StatementShape] = OrderedDict()

    def clear(self) -> None:
        self._shapes.clear()

    async def run(
        self,
        conn: asyncpg.Connection,
        attempt: Attempt,
        context: OperationContext,
        sql: str,
        args: Sequence[Any],
        where: str,
    ) -> StatementResult:
        timeout = self._timeout
        shape = self._shapes.get(sql)
        statement = None
        if shape is None:
            # First run of this SQL text: prepare it, which also refuses a multi-statement string.
            statement = await conn.prepare(sql, timeout=context.timeout(timeout))
            types = [parameter.name for parameter in statement.get_parameters()]
        else:
            types = shape.types
        if len(args) != len(types):
            raise OperationError(
                EnumErrorCode.INVALID_PAYLOAD, f"{where}: the statement takes {len(types)} argument(s), got {len(args)}"
            )
        try:
            bound = to_pg_args(args, types)
        except ValueError as exc:
            raise OperationError(EnumErrorCode.INVALID_PAYLOAD, f"{where}{str(exc).removeprefix('args')}") from None
        attempt.statement_sent = True
        try:
            if statement is not None:
                rows = await statement.fetch(*bound, timeout=context.timeout(timeout))
                learned = _StatementShape.learn(statement)
                if learned.tag is not None or not learned.columns:
                    # Rows under a tag without a count (SHOW, ...) keep taking the prepared path.
                    self._remember(sql, learned)
                status, columns = statement.get_statusmsg(), learned.columns
            elif shape is not None and shape.tag is not None:
                rows = await conn.fetch(sql, *bound, timeout=context.timeout(timeout))
                status, columns = f"{shape.tag} {len(rows)}", shape.columns
                if rows and list(rows[0].keys()) != columns:
                    # asyncpg re-prepares a cached statement whose result type changed
                    # (ALTER TABLE under SELECT *): follow it.
                    columns = list(rows[0].keys())
                    self._remember(sql, _StatementShape(shape.types, columns, shape.tag))
            else:
                # No rows come back; execute() reports the exact command tag. This SQL text
                # was prepared once already, so it is known to be a single statement.
                rows, columns = [], []
                status = await conn.execute(sql, *bound, timeout=context.timeout(timeout))
        except (asyncpg.exceptions.DataError, asyncpg.InterfaceError) as exc:
            self._shapes.pop(sql, None)
            if is_bad_argument(exc):
                raise OperationError(EnumErrorCode.INVALID_PAYLOAD, f"{where}: {exc}") from None
            raise
        except asyncpg.PostgresError:
            self._shapes.pop(sql, None)  # the schema may have changed under the learned shape
            raise
        if len(rows) > self._max_rows:
            raise OperationError(
                EnumErrorCode.UPSTREAM_ERROR,
                f"the statement returned {len(rows)} rows, more than max_rows={self._max_rows}",
            )
        return StatementResult(rows, status, columns)

    def _remember(self, sql: str, shape: _StatementShape) -> None:
        """Keep the shape; the least recently learned one goes first when the cache is full."""
        self._shapes[sql] = shape
        self._shapes.move_to_end(sql)
        while len(self._shapes) > _SHAPE_CACHE_SIZE:
            self._shapes.popitem(last=False)
