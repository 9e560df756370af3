"""Which SQL an operation runs: declared in the node contract, or raw SQL where both sides allow it.

Anyone who can write to the command topic must not be able to run arbitrary
SQL, so SQL lives in node contracts: an operation declares a named statement
(``params: {statement: "SELECT ... WHERE id = $1"}``) or, for a transaction,
a set of them (``params: {statements: {debit: ..., credit: ...}}``), and an
envelope supplies only the arguments. SQL in the payload is accepted only
when the operation declares ``params.raw_sql: true`` *and* the host's handler
config says ``allow_raw_sql: true`` (dev hosts). Both halves are checked at
load (``check_operation_params``) and again per request.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from onex_host.core.contracts import ModelOperationSpec
from onex_host.core.enums import EnumErrorCode
from onex_host.core.errors import OperationError
from onex_host.core.operation import OperationContext
from onex_host.infra.handlers.base import PayloadModel

CONTRACT_KEYS = frozenset({"statement", "statements", "raw_sql"})


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


def check_operation_params(action: str, spec: ModelOperationSpec, allow_raw_sql: bool) -> str | None:
    """Load-time check of a db operation's contract-only params, or None if they are fine."""
    if "sql" in spec.params:
        return "params.sql: declare SQL as params.statement (or params.statements for a transaction)"
    try:
        params = _DbOperationParams.model_validate(spec.params)
    except ValidationError as exc:
        error = exc.errors()[0]
        return f"params.{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
    wanted, other = ("statements", "statement") if action == "transaction" else ("statement", "statements")
    if getattr(params, other) is not None:
        return f"params.{other}: the {action} action takes params.{wanted}"
    if getattr(params, wanted) is None and not params.raw_sql:
        return f"params.{wanted}: required for a db {action} operation (SQL is declared in the contract)"
    if params.raw_sql and not allow_raw_sql:
        return "params.raw_sql: this host's db handler config does not set allow_raw_sql"
    return None


def statement_sql(context: OperationContext, raw: str | None, where: str, allow_raw_sql: bool) -> str:
    """The SQL of a query/execute request: the declared statement, else the payload's raw SQL if allowed."""
    declared: str | None = context.spec.params.get("statement")
    if declared is not None:
        if raw is not None:
            raise OperationError(
                EnumErrorCode.FORBIDDEN, f"{where}: operation {context.operation!r} runs a declared statement"
            )
        return declared
    return raw_sql(context, raw, where, allow_raw_sql)


def step_sql(context: OperationContext, step: TransactionStep, where: str, allow_raw_sql: bool) -> str:
    """The SQL of one transaction step: a statement declared in ``params.statements``, or raw SQL."""
    declared: dict[str, str] = context.spec.params.get("statements") or {}
    if step.statement is not None:
        if step.statement not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise OperationError(
                EnumErrorCode.INVALID_PAYLOAD,
                f"{where}.statement: {step.statement!r} is not declared for operation "
                f"{context.operation!r} (declared: {known})",
            )
        return declared[step.statement]
    return raw_sql(context, step.sql, f"{where}.sql", allow_raw_sql)


def raw_sql(context: OperationContext, raw: str | None, where: str, allow_raw_sql: bool) -> str:
    if not (context.spec.params.get("raw_sql") and allow_raw_sql):
        raise OperationError(
            EnumErrorCode.FORBIDDEN,
            f"{where}: raw SQL is not allowed here (needs params.raw_sql on operation "
            f"{context.operation!r} and allow_raw_sql in the db handler config)",
        )
    if raw is None:
        raise OperationError(EnumErrorCode.INVALID_PAYLOAD, f"{where}: required field is missing")
    return raw
