"""The db handler's config: where PostgreSQL is, how big the pools are, what a request may do."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from onex_host.core.envelope import MAX_TTL_SECONDS
from onex_host.core.secrets import SecretText
from onex_host.infra.handlers._urls import postgres_dsn_problem
from onex_host.infra.handlers.base import HandlerConfigModel


class DbIdempotencyConfig(HandlerConfigModel):
    """Exactly-once effects: how the db handler keys operations with side effects by envelope id.

    Rows live ``retention_seconds`` after they were written, and never less
    than their envelope's own TTL: until then the envelope could still be
    accepted, so its redelivery must still find its row.
    """

    enabled: bool = Field(
        default=True,
        description="Record each side-effect operation's envelope id and reply in onex_host_idempotency, in the "
        "operation's transaction, and answer a redelivery from there instead of running it again.",
    )
    retention_seconds: int = Field(
        default=MAX_TTL_SECONDS,
        gt=0,
        description="How long a key is kept after it was written (an envelope with a longer TTL keeps it longer).",
    )
    purge_interval_seconds: float = Field(
        default=60.0, gt=0, description="At most one purge of expired keys per interval, after a keyed operation."
    )
    purge_batch_size: int = Field(
        default=1000, ge=1, le=100_000, description="Expired keys deleted per statement of a purge."
    )


class DbHandlerConfig(HandlerConfigModel):
    dsn: SecretText | None = Field(default=None, description="libpq URI; the fields below override its parts.")
    host: str | None = None
    port: int | None = Field(default=None, gt=0, le=65535)
    database: str | None = None
    user: str | None = None
    password: SecretText | None = None
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    statement_timeout_seconds: float = Field(default=30.0, gt=0)
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    application_name: str = Field(default="onex-host", description="Shown in pg_stat_activity.")
    max_rows: int = Field(default=10_000, ge=1, description="A query returning more rows fails instead of truncating.")
    allow_raw_sql: bool = Field(
        default=False, description="Accept SQL text in payloads of operations declaring raw_sql. Dev hosts only."
    )
    idempotency: DbIdempotencyConfig = Field(default_factory=DbIdempotencyConfig)

    @field_validator("dsn")
    @classmethod
    def _libpq_uri(cls, dsn: SecretStr | None) -> SecretStr | None:
        problem = None if dsn is None else postgres_dsn_problem(dsn.get_secret_value())
        if problem:
            raise ValueError(problem)
        return dsn

    @model_validator(mode="after")
    def _pool_bounds(self) -> DbHandlerConfig:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError(f"pool_min_size ({self.pool_min_size}) exceeds pool_max_size ({self.pool_max_size})")
        return self
