"""``DbHandler``: PostgreSQL statements through an asyncpg pool.

Anyone who can write to the command topic must not be able to run arbitrary
SQL, so SQL lives in node contracts: an operation declares a named statement
(``params: {statement: "SELECT ... WHERE id = $1"}``) or, for a transaction,
a set of them (``params: {statements: {debit: ..., credit: ...}}``), and an
envelope supplies only the arguments. SQL in the payload is accepted only
when the operation declares ``params.raw_sql: true`` *and* the host's handler
config says ``allow_raw_sql: true`` (dev hosts).

Every statement is prepared the first time it runs (one statement per call,
never a multi-statement string), bound with parameters (never formatted in)
and given a timeout that respects the envelope's TTL. What the first run
learns (parameter types, columns, command tag) is kept per SQL text, so later
runs go through asyncpg's per-connection statement cache in one round trip.

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
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, JsonValue, SecretStr, ValidationError, model_validator

from onex_host.core.contracts import ModelOperationSpec
from onex_host.core.enums import EnumErrorCode, EnumHandlerType, EnumSideEffects
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.errors import OperationError
from onex_host.core.operation import OperationContext
from onex_host.infra.handlers._params import request_payload, unknown_params
from onex_host.infra.handlers._pg_values import JsonSafe, row_to_json, to_pg_args
from onex_host.infra.handlers.base import BaseHandler, HandlerConfigModel, PayloadModel, action

_CONTRACT_KEYS = frozenset({"statement", "statements", "raw_sql"})
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57P01", "57P02", "57P03", "40001", "40P01")
_CONNECTION_LOST: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,  # 08xxx, including "connection does not exist"
    asyncpg.exceptions.AdminShutdownError,  # 57P01: pg_terminate_backend, server shutdown
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: server starting up
    asyncpg.InterfaceError,  # "connection is closed" and friends
    asyncpg.exceptions.InternalClientError,  # protocol state left behind by a dropped connection
    OSError,  # refused, reset
)
T = TypeVar("T")
_SHAPE_CACHE_SIZE = 1024
logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Attempt:
    """Whether a statement of this request may already have run on the server."""

    retried: bool = False
    statement_sent: bool = False


def _is_bad_argument(exc: Exception) -> bool:
    """Whether asyncpg refused to encode an argument, before anything reached the server.

    asyncpg reports that as a ``DataError`` chained to the codec's exception
    (server-side data errors are never chained), or as its client-side
    ``DataError``, which is both an ``InterfaceError`` and a ``ValueError``.
    """
    if isinstance(exc, asyncpg.exceptions.DataError):
        return exc.__cause__ is not None
    return isinstance(exc, asyncpg.InterfaceError) and isinstance(exc, ValueError)


class DbHandlerConfig(HandlerConfigModel):
    dsn: SecretStr | None = Field(default=None, description="libpq URI; the fields below override its parts.")
    host: str | None = None
    port: int | None = Field(default=None, gt=0, le=65535)
    database: str | None = None
    user: str | None = None
    password: SecretStr | None = None
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    statement_timeout_seconds: float = Field(default=30.0, gt=0)
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    application_name: str = Field(default="onex-host", description="Shown in pg_stat_activity.")
    max_rows: int = Field(default=10_000, ge=1, description="A query returning more rows fails instead of truncating.")
    allow_raw_sql: bool = Field(
        default=False, description="Accept SQL text in payloads of operations declaring raw_sql. Dev hosts only."
    )

    @model_validator(mode="after")
    def _pool_bounds(self) -> DbHandlerConfig:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError(f"pool_min_size ({self.pool_min_size}) exceeds pool_max_size ({self.pool_max_size})")
        return self


class _DbOperationParams(BaseModel):
    """The contract-only part of a db operation's params."""

    model_config = ConfigDict(extra="ignore")

    statement: str | None = Field(default=None, min_length=1)
    statements: dict[str, str] | None = Field(default=None, min_length=1)
    raw_sql: bool = False


class StatementPayload(PayloadModel):
    args: list[JsonValue] = Field(default_factory=list, description="Positional arguments for $1, $2, ...")
    sql: str | None = Field(default=None, min_length=1, description="Raw SQL; see allow_raw_sql.")


class TransactionStep(PayloadModel):
    statement: str | None = Field(default=None, description="Name of a statement declared in params.statements.")
    sql: str | None = Field(default=None, min_length=1, description="Raw SQL; see allow_raw_sql.")
    args: list[JsonValue] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> TransactionStep:
        if (self.statement is None) == (self.sql is None):
            raise ValueError("give exactly one of statement or sql")
        return self


class TransactionPayload(PayloadModel):
    steps: list[TransactionStep] = Field(min_length=1)


_PAYLOADS: dict[str, type[PayloadModel]] = {
    "query": StatementPayload,
    "execute": StatementPayload,
    "transaction": TransactionPayload,
}


class _StatementResult:
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


class DbHandler(BaseHandler[DbHandlerConfig]):
    handler_type = EnumHandlerType.DB
    config_model = DbHandlerConfig

    def __init__(self) -> None:
        super().__init__()
        self._pools: dict[bool, asyncpg.Pool] = {}  # keyed by read-only
        self._pool_lock = asyncio.Lock()
        self._shapes: OrderedDict[str, _StatementShape] = OrderedDict()

    # -- lifecycle ----------------------------------------------------------------------

    async def _close(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        self._shapes.clear()
        for pool in pools:
            try:
                await asyncio.wait_for(pool.close(), timeout=self.config.statement_timeout_seconds)
            except TimeoutError:
                pool.terminate()

    async def _pool_ready(self, readonly: bool = False) -> asyncpg.Pool:
        """The (read-only or read-write) pool, created on first use so the host can start while PostgreSQL is down."""
        pool = self._pools.get(readonly)
        if pool is not None:
            return pool
        async with self._pool_lock:
            if readonly not in self._pools:
                config = self.config
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

    async def _probe(self) -> dict[str, Any]:
        async with asyncio.timeout(self.config.connect_timeout_seconds):
            pool = self._pools.get(True) or await self._pool_ready()
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
                version = conn.get_server_version()
        return {
            "server_version": f"{version.major}.{version.minor}",
            "pool_size": pool.get_size(),
            "pool_idle": pool.get_idle_size(),
            "pool_max_size": pool.get_max_size(),
        }

    # -- contract checks ---------------------------------------------------------------

    def validate_operation(self, operation: str, spec: ModelOperationSpec) -> str | None:
        problem = super().validate_operation(operation, spec)
        if problem:
            return problem
        name = spec.action or operation
        problem = unknown_params(spec, _PAYLOADS[name], _CONTRACT_KEYS)
        if problem:
            return problem
        if "sql" in spec.params:
            return "params.sql: declare SQL as params.statement (or params.statements for a transaction)"
        try:
            params = _DbOperationParams.model_validate(spec.params)
        except ValidationError as exc:
            error = exc.errors()[0]
            return f"params.{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
        wanted, other = ("statements", "statement") if name == "transaction" else ("statement", "statements")
        if getattr(params, other) is not None:
            return f"params.{other}: the {name} action takes params.{wanted}"
        if getattr(params, wanted) is None and not params.raw_sql:
            return f"params.{wanted}: required for a db {name} operation (SQL is declared in the contract)"
        if params.raw_sql and self.initialized and not self.config.allow_raw_sql:
            return "params.raw_sql: this host's db handler config does not set allow_raw_sql"
        return None

    # -- actions --------------------------------------------------------------------

    @action("query")
    async def _query(self, envelope: ModelOnexEnvelope, context: OperationContext) -> dict[str, Any]:
        """Run a row-returning statement; rows come back as JSON objects."""
        request = request_payload(envelope, context, StatementPayload, _CONTRACT_KEYS)
        sql = self._statement_sql(context, request.sql, "payload.sql")

        async def work(conn: asyncpg.Connection, attempt: _Attempt) -> dict[str, Any]:
            result = await self._run(conn, attempt, context, sql, request.args, "payload.args")
            return result.to_json(with_rows=True)

        return await self._with_connection(context, work)

    @action("execute")
    async def _execute(self, envelope: ModelOnexEnvelope, context: OperationContext) -> dict[str, Any]:
        """Run a command; reply with its status and affected row count (and RETURNING rows)."""
        request = request_payload(envelope, context, StatementPayload, _CONTRACT_KEYS)
        sql = self._statement_sql(context, request.sql, "payload.sql")

        async def work(conn: asyncpg.Connection, attempt: _Attempt) -> dict[str, Any]:
            result = await self._run(conn, attempt, context, sql, request.args, "payload.args")
            return result.to_json(with_rows=bool(result.columns))

        return await self._with_connection(context, work)

    @action("transaction")
    async def _transaction(self, envelope: ModelOnexEnvelope, context: OperationContext) -> dict[str, Any]:
        """Run the payload's steps in one transaction; any failure rolls every step back."""
        request = request_payload(envelope, context, TransactionPayload, _CONTRACT_KEYS)
        declared: dict[str, str] = context.spec.params.get("statements") or {}
        plan = [
            (self._step_sql(context, declared, step, f"payload.steps[{index}]"), step)
            for index, step in enumerate(request.steps)
        ]

        async def work(conn: asyncpg.Connection, attempt: _Attempt) -> dict[str, Any]:
            results: list[dict[str, Any]] = []
            for index, (sql, step) in enumerate(plan):
                where = f"payload.steps[{index}]"
                try:
                    result = await self._run(conn, attempt, context, sql, step.args, f"{where}.args")
                except asyncpg.PostgresError as exc:
                    if isinstance(exc, _CONNECTION_LOST):
                        raise
                    failure = _postgres_failure(exc)
                    raise OperationError(
                        failure.code,
                        f"{where} ({step.statement or 'sql'}): {failure.message}; the transaction was rolled back",
                        {**failure.details, "step": index, "rolled_back": True},
                    ) from None
                results.append({"statement": step.statement, **result.to_json(with_rows=bool(result.columns))})
            return {"results": results, "committed": True}

        return await self._with_connection(context, work, transaction=True)

    # -- internals ----------------------------------------------------------------------

    def _statement_sql(self, context: OperationContext, raw: str | None, where: str) -> str:
        declared: str | None = context.spec.params.get("statement")
        if declared is not None:
            if raw is not None:
                raise OperationError(
                    EnumErrorCode.FORBIDDEN, f"{where}: operation {context.operation!r} runs a declared statement"
                )
            return declared
        return self._raw_sql(context, raw, where)

    def _step_sql(self, context: OperationContext, declared: dict[str, str], step: TransactionStep, where: str) -> str:
        if step.statement is not None:
            if step.statement not in declared:
                known = ", ".join(sorted(declared)) or "none"
                raise OperationError(
                    EnumErrorCode.INVALID_PAYLOAD,
                    f"{where}.statement: {step.statement!r} is not declared for operation "
                    f"{context.operation!r} (declared: {known})",
                )
            return declared[step.statement]
        return self._raw_sql(context, step.sql, f"{where}.sql")

    def _raw_sql(self, context: OperationContext, raw: str | None, where: str) -> str:
        if not (context.spec.params.get("raw_sql") and self.config.allow_raw_sql):
            raise OperationError(
                EnumErrorCode.FORBIDDEN,
                f"{where}: raw SQL is not allowed here (needs params.raw_sql on operation "
                f"{context.operation!r} and allow_raw_sql in the db handler config)",
            )
        if raw is None:
            raise OperationError(EnumErrorCode.INVALID_PAYLOAD, f"{where}: required field is missing")
        return raw

    async def _with_connection(
        self,
        context: OperationContext,
        work: Callable[[asyncpg.Connection, _Attempt], Awaitable[T]],
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
        attempt = _Attempt()
        while True:
            try:
                async with self._connection(context, transaction=transaction, readonly=readonly) as conn:
                    return await work(conn, attempt)
            except _CONNECTION_LOST as exc:
                if attempt.retried or (attempt.statement_sent and not readonly):
                    raise
                logger.warning(
                    "db connection lost; retrying on a fresh connection",
                    extra={"node": context.node_slug, "operation": context.operation, "error": type(exc).__name__},
                )
                attempt = _Attempt(retried=True)

    @asynccontextmanager
    async def _connection(
        self, context: OperationContext, *, transaction: bool, readonly: bool
    ) -> AsyncIterator[asyncpg.Connection]:
        async with asyncio.timeout(context.timeout(self.config.connect_timeout_seconds)):
            pool = await self._pool_ready(readonly)
            conn = await pool.acquire()
        try:
            if transaction:
                async with conn.transaction(readonly=readonly):
                    yield conn
            else:
                yield conn
        finally:
            await pool.release(conn)

    async def _run(
        self,
        conn: asyncpg.Connection,
        attempt: _Attempt,
        context: OperationContext,
        sql: str,
        args: Sequence[Any],
        where: str,
    ) -> _StatementResult:
        timeout = self.config.statement_timeout_seconds
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
            if _is_bad_argument(exc):
                raise OperationError(EnumErrorCode.INVALID_PAYLOAD, f"{where}: {exc}") from None
            raise
        except asyncpg.PostgresError:
            self._shapes.pop(sql, None)  # the schema may have changed under the learned shape
            raise
        if len(rows) > self.config.max_rows:
            raise OperationError(
                EnumErrorCode.UPSTREAM_ERROR,
                f"the statement returned {len(rows)} rows, more than max_rows={self.config.max_rows}",
            )
        return _StatementResult(rows, status, columns)

    def _remember(self, sql: str, shape: _StatementShape) -> None:
        """Keep the shape, least recently learned out first (raw SQL on dev hosts must not grow it forever)."""
        self._shapes[sql] = shape
        self._shapes.move_to_end(sql)
        while len(self._shapes) > _SHAPE_CACHE_SIZE:
            self._shapes.popitem(last=False)

    def translate_error(self, exc: Exception) -> OperationError | None:
        if isinstance(exc, asyncpg.PostgresError):
            return _postgres_failure(exc)
        if isinstance(exc, _CONNECTION_LOST):
            return OperationError(
                EnumErrorCode.UPSTREAM_UNAVAILABLE, f"PostgreSQL is unreachable: {type(exc).__name__}: {exc}"
            )
        return None


def _postgres_failure(exc: asyncpg.PostgresError) -> OperationError:
    """An error reply carrying the SQLSTATE and the server's own explanation."""
    sqlstate: str = exc.sqlstate or ""
    code: EnumErrorCode
    if sqlstate.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES):
        code = EnumErrorCode.UPSTREAM_UNAVAILABLE
    elif sqlstate == "57014":  # query_canceled: the statement timeout fired on the server
        code = EnumErrorCode.TIMEOUT
    elif sqlstate.startswith(("28", "42501")):
        code = EnumErrorCode.FORBIDDEN
    elif sqlstate.startswith("22"):
        code = EnumErrorCode.INVALID_PAYLOAD
    else:
        code = EnumErrorCode.UPSTREAM_ERROR
    fields = exc.as_dict()
    details: dict[str, Any] = {
        key: fields[key]
        for key in ("sqlstate", "detail", "hint", "table_name", "column_name", "constraint_name")
        if fields.get(key)
    }
    details["sqlstate"] = sqlstate
    message = fields.get("message") or str(exc)
    return OperationError(code, f"PostgreSQL error {sqlstate} ({type(exc).__name__}): {message}", details)


async def _init_connection(conn: asyncpg.Connection) -> None:
    """json/jsonb travel as JSON values, not as strings holding JSON."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
