"""Session-scoped fixtures for the real backing services: PostgreSQL, OpenBao (Vault API), Consul, Kafka.

Each fixture starts its server lazily (the first test that asks for it), keeps it
for the session, and tries the environment, then testcontainers, then a native
process (see :mod:`tests.support.provisioning.service_providers`). When none works the test
is skipped, or failed under ``--require-services``, with what was tried.

A test that uses one of these fixtures, directly or through another fixture,
gets the service's marker at collection time, so ``-m kafka`` selects it and
the per-marker summary counts it even when the fixture skips.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest

from tests.support.builders.pg import apply_migrations
from tests.support.provisioning.endpoints import (
    BrokerController,
    ConsulEndpoint,
    KafkaEndpoint,
    PostgresEndpoint,
    VaultEndpoint,
)
from tests.support.provisioning.provision import PROVISIONS, provide_service
from tests.support.provisioning.service_providers import (
    CONSUL_PROVIDERS,
    KAFKA_PROVIDERS,
    POSTGRES_PROVIDERS,
    VAULT_PROVIDERS,
    describe_postgres,
)

__all__ = [
    "BrokerController",
    "ConsulEndpoint",
    "KafkaEndpoint",
    "PostgresEndpoint",
    "VaultEndpoint",
    "consul_service",
    "kafka_service",
    "postgres_service",
    "pytest_configure",
    "vault_service",
]

FIXTURE_MARKERS = {
    "postgres_service": "postgres",
    "vault_service": "vault",
    "consul_service": "consul",
    "kafka_service": "kafka",
}


def _required(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--require-services", default=False))


@pytest.fixture(scope="session")
def postgres_service(request: pytest.FixtureRequest) -> Iterator[PostgresEndpoint]:
    """The session's PostgreSQL, with the repository's migrations applied (the host's own tables among them)."""
    with ExitStack() as stack:
        endpoint = provide_service(
            "postgres", POSTGRES_PROVIDERS, stack, required=_required(request), describe=describe_postgres
        )
        # In a thread of its own: the first test to ask for the database may be running an event loop already.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(lambda: asyncio.run(apply_migrations(endpoint.dsn))).result()
        yield endpoint


@pytest.fixture(scope="session")
def vault_service(request: pytest.FixtureRequest) -> Iterator[VaultEndpoint]:
    with ExitStack() as stack:
        yield provide_service("vault", VAULT_PROVIDERS, stack, required=_required(request), describe=lambda e: e.addr)


@pytest.fixture(scope="session")
def consul_service(request: pytest.FixtureRequest) -> Iterator[ConsulEndpoint]:
    with ExitStack() as stack:
        yield provide_service("consul", CONSUL_PROVIDERS, stack, required=_required(request), describe=lambda e: e.addr)


@pytest.fixture(scope="session")
def kafka_service(request: pytest.FixtureRequest) -> Iterator[KafkaEndpoint]:
    with ExitStack() as stack:
        yield provide_service(
            "kafka",
            KAFKA_PROVIDERS,
            stack,
            required=_required(request),
            describe=lambda e: f"{e.bootstrap} (Kafka {e.version})",
        )


class ServiceFixturePlugin:
    """Marks tests by the service fixtures they use, and reports which provider served each service."""

    @pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            used = set(getattr(item, "fixturenames", ()))
            for fixture, marker in FIXTURE_MARKERS.items():
                if fixture in used:
                    item.add_marker(marker)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if PROVISIONS:
            terminalreporter.section("backing services")
            for provision in PROVISIONS:
                terminalreporter.write_line(f"{provision.service:>10}: {provision.provider} at {provision.where}")


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("onex-service-fixtures"):
        config.pluginmanager.register(ServiceFixturePlugin(), "onex-service-fixtures")
