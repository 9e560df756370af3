"""What the service fixtures hand to tests: where a server is, and how to log in.

Secrets are kept out of ``repr`` so a failing assertion or a log line never
prints a password or token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PostgresEndpoint:
    dsn: str = field(repr=False)
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str


@dataclass(frozen=True)
class VaultEndpoint:
    addr: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class ConsulEndpoint:
    addr: str


class BrokerController(Protocol):
    """Restarts the broker in place: same address, same data (what a broker-restart test needs)."""

    def stop(self) -> None: ...

    def start(self) -> None: ...


@dataclass(frozen=True)
class KafkaEndpoint:
    bootstrap: str
    version: str
    controller: BrokerController | None = field(default=None, compare=False)
    """None when the broker is not this session's to restart (given by the environment, or a container)."""
