"""The db handler's config: where PostgreSQL is, how big the pools are, what a request may do."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from onex_host.core.secrets import SecretText
from onex_host.infra.handlers._urls import postgres_dsn_problem
from onex_host.infra.handlers.base import HandlerConfigModel


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
