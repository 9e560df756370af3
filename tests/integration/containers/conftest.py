"""Service fixtures that go through the testcontainers provider alone (never native, never the environment).

The rest of the suite runs against native servers; these few tests prove on
every `make test` that each service's container (its local build on these
machines) starts from deploy/services.yaml's environment and does real work.
The provider report names the image and what it is built from. The
containers last for this package only, not for the rest of the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TypeVar

import pytest

from tests.support.provisioning.containers import CONTAINER_IMAGES
from tests.support.provisioning.endpoints import ConsulEndpoint, KafkaEndpoint, PostgresEndpoint, VaultEndpoint
from tests.support.provisioning.provision import Provider, provide_service
from tests.support.provisioning.service_providers import (
    CONSUL_CONTAINER_PROVIDERS,
    KAFKA_CONTAINER_PROVIDERS,
    POSTGRES_CONTAINER_PROVIDERS,
    VAULT_CONTAINER_PROVIDERS,
    describe_postgres,
)

T = TypeVar("T")


def _provide(
    request: pytest.FixtureRequest, service: str, providers: list[Provider[T]], where: Callable[[T], str]
) -> Iterator[T]:
    required = bool(request.config.getoption("--require-services", default=False))
    with ExitStack() as stack:
        yield provide_service(
            service,
            providers,
            stack,
            required=required,
            describe=lambda endpoint: f"{where(endpoint)}, image {CONTAINER_IMAGES.get(service, '?')}",
        )


@pytest.fixture(scope="package")
def postgres_container(request: pytest.FixtureRequest) -> Iterator[PostgresEndpoint]:
    yield from _provide(request, "postgres", POSTGRES_CONTAINER_PROVIDERS, describe_postgres)


@pytest.fixture(scope="package")
def vault_container(request: pytest.FixtureRequest) -> Iterator[VaultEndpoint]:
    yield from _provide(request, "vault", VAULT_CONTAINER_PROVIDERS, lambda endpoint: endpoint.addr)


@pytest.fixture(scope="package")
def consul_container(request: pytest.FixtureRequest) -> Iterator[ConsulEndpoint]:
    yield from _provide(request, "consul", CONSUL_CONTAINER_PROVIDERS, lambda endpoint: endpoint.addr)


@pytest.fixture(scope="package")
def kafka_container(request: pytest.FixtureRequest) -> Iterator[KafkaEndpoint]:
    yield from _provide(request, "kafka", KAFKA_CONTAINER_PROVIDERS, lambda endpoint: endpoint.bootstrap)
