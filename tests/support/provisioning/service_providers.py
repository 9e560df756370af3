"""For each service, the three ways of getting one, in the order the fixtures try them.

1. the environment (``ONEX_TEST_*``: how the Dagger pipeline hands its services over);
2. a native process from :mod:`tests.support.provisioning.native` (installed by ``make services``):
   fast to start, and what most of the suite runs against;
3. a testcontainers container of the service's image (:mod:`tests.support.provisioning.images`:
   the ``deploy/services.yaml`` image or its local build), when Docker answers and nothing is installed.

``*_CONTAINER_PROVIDERS`` hold the container provider alone: the smoke set in
tests/integration/containers goes through it on every ``make test``.

An endpoint named by the environment is probed once; when it does not answer
the run fails (:class:`ServiceMisconfigured`) rather than quietly testing
against something else.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable
from contextlib import ExitStack
from typing import TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict

from tests.support.provisioning.containers import ContainerAddress, run_service_container
from tests.support.provisioning.endpoints import ConsulEndpoint, KafkaEndpoint, PostgresEndpoint, VaultEndpoint
from tests.support.provisioning.native import (
    NativeConsul,
    NativeKafka,
    NativeOpenBao,
    NativePostgres,
    NativeServer,
    ServiceNotInstalledError,
    ServiceStartError,
    http_ok,
    wait_until,
)
from tests.support.provisioning.native.consul import consul_has_leader
from tests.support.provisioning.native.kafka import api_versions_ok, default_kafka_version
from tests.support.provisioning.provision import Provider, ServiceMisconfigured, ServiceUnavailable
from tests.support.provisioning.servicespec import service_spec

ENV_PROBE_TIMEOUT = float(os.environ.get("ONEX_TEST_SERVICE_TIMEOUT", "30"))

Server = TypeVar("Server", bound=NativeServer)


def _env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ServiceUnavailable(f"{name} is not set")
    return value


def _expect_answer(ready: Callable[[], bool], what: str) -> None:
    try:
        wait_until(ready, timeout=ENV_PROBE_TIMEOUT, what=what)
    except ServiceStartError as exc:
        raise ServiceMisconfigured(str(exc)) from exc


def _host_port(address: str, variable: str) -> tuple[str, int]:
    parsed = urllib.parse.urlsplit(address if "://" in address else f"//{address}")
    if not parsed.hostname or parsed.port is None:
        raise ServiceMisconfigured(f"{variable}={address!r} is not host:port")
    return parsed.hostname, parsed.port


def _start_native(stack: ExitStack, make: Callable[[], Server], attempts: int = 2) -> Server:
    """Start a native server for the session; a missing binary or failed start makes the provider unavailable.

    A failed start is retried once on fresh ports: between picking a free port
    and binding it, a parallel test session may have taken it.
    """
    failures: list[str] = []
    for _ in range(attempts):
        try:
            server = make()
        except ServiceNotInstalledError as exc:
            raise ServiceUnavailable(str(exc)) from exc
        try:
            server.start()
        except ServiceStartError as exc:
            server.close()
            failures.append(str(exc))
            continue
        stack.callback(server.close)
        return server
    raise ServiceUnavailable(f"failed to start {attempts} times; last: {failures[-1]}")


# --- PostgreSQL ---------------------------------------------------------------------------------


def _postgres_answers(dsn: str) -> bool:
    with psycopg.connect(dsn, connect_timeout=3):
        return True


def _postgres_ready(dsn: str) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            return _postgres_answers(dsn)
        except psycopg.OperationalError:
            return False

    return ready


def postgres_from_environment(stack: ExitStack) -> PostgresEndpoint:
    dsn = _env("ONEX_TEST_POSTGRES_DSN")
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise ServiceMisconfigured("ONEX_TEST_POSTGRES_DSN is not a valid libpq connection string") from None
    endpoint = PostgresEndpoint(
        dsn=dsn,
        host=str(parts.get("host") or "localhost"),
        port=int(parts.get("port") or 5432),
        user=str(parts.get("user") or ""),
        password=str(parts.get("password") or ""),
        database=str(parts.get("dbname") or parts.get("user") or ""),
    )
    _expect_answer(_postgres_ready(dsn), f"ONEX_TEST_POSTGRES_DSN ({describe_postgres(endpoint)})")
    return endpoint


def _postgres_endpoint(host: str, port: int, user: str, password: str, database: str) -> PostgresEndpoint:
    quoted = urllib.parse.quote
    dsn = f"postgresql://{quoted(user)}:{quoted(password, safe='')}@{host}:{port}/{quoted(database)}"
    return PostgresEndpoint(dsn=dsn, host=host, port=port, user=user, password=password, database=database)


def postgres_from_container(stack: ExitStack) -> PostgresEndpoint:
    env = service_spec("postgres").env

    def endpoint_at(address: ContainerAddress) -> PostgresEndpoint:
        return _postgres_endpoint(
            address.host, address.port, env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"]
        )

    address = run_service_container(stack, "postgres", lambda a: _postgres_ready(endpoint_at(a).dsn)())
    return endpoint_at(address)


def postgres_native(stack: ExitStack) -> PostgresEndpoint:
    env = service_spec("postgres").env
    server = _start_native(
        stack,
        lambda: NativePostgres(
            user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"], database=env["POSTGRES_DB"]
        ),
    )
    return _postgres_endpoint(server.host, server.port, server.user, server.password, server.database)


def describe_postgres(endpoint: PostgresEndpoint) -> str:
    return f"{endpoint.user}@{endpoint.host}:{endpoint.port}/{endpoint.database}"


POSTGRES_PROVIDERS: list[Provider[PostgresEndpoint]] = [
    Provider("environment", postgres_from_environment),
    Provider("native", postgres_native),
    Provider("testcontainers", postgres_from_container),
]
POSTGRES_CONTAINER_PROVIDERS: list[Provider[PostgresEndpoint]] = [
    Provider("testcontainers", postgres_from_container),
]


# --- OpenBao (Vault API) ------------------------------------------------------------------------


def vault_from_environment(stack: ExitStack) -> VaultEndpoint:
    addr = os.environ.get("ONEX_TEST_VAULT_ADDR", "").strip()
    token = os.environ.get("ONEX_TEST_VAULT_TOKEN", "").strip()
    if not addr and not token:
        raise ServiceUnavailable("ONEX_TEST_VAULT_ADDR and ONEX_TEST_VAULT_TOKEN are not set")
    if not (addr and token):
        missing = "ONEX_TEST_VAULT_TOKEN" if addr else "ONEX_TEST_VAULT_ADDR"
        raise ServiceMisconfigured(f"{missing} must be set together with the other ONEX_TEST_VAULT_* variable")
    addr = addr.rstrip("/")
    _expect_answer(lambda: http_ok(f"{addr}/v1/sys/health"), f"ONEX_TEST_VAULT_ADDR={addr}")
    return VaultEndpoint(addr=addr, token=token)


def vault_from_container(stack: ExitStack) -> VaultEndpoint:
    def addr_of(address: ContainerAddress) -> str:
        return f"http://{address.host}:{address.port}"

    address = run_service_container(stack, "vault", lambda a: http_ok(f"{addr_of(a)}/v1/sys/health"))
    return VaultEndpoint(addr=addr_of(address), token=address.spec.env["BAO_DEV_ROOT_TOKEN_ID"])


def vault_native(stack: ExitStack) -> VaultEndpoint:
    server = _start_native(stack, NativeOpenBao)
    return VaultEndpoint(addr=server.addr, token=server.root_token)


VAULT_PROVIDERS: list[Provider[VaultEndpoint]] = [
    Provider("environment", vault_from_environment),
    Provider("native", vault_native),
    Provider("testcontainers", vault_from_container),
]
VAULT_CONTAINER_PROVIDERS: list[Provider[VaultEndpoint]] = [
    Provider("testcontainers", vault_from_container),
]


# --- Consul -------------------------------------------------------------------------------------


def consul_from_environment(stack: ExitStack) -> ConsulEndpoint:
    addr = _env("ONEX_TEST_CONSUL_ADDR").rstrip("/")
    _expect_answer(lambda: consul_has_leader(addr), f"ONEX_TEST_CONSUL_ADDR={addr}")
    return ConsulEndpoint(addr=addr)


def consul_from_container(stack: ExitStack) -> ConsulEndpoint:
    address = run_service_container(stack, "consul", lambda a: consul_has_leader(f"http://{a.host}:{a.port}"))
    return ConsulEndpoint(addr=f"http://{address.host}:{address.port}")


def consul_native(stack: ExitStack) -> ConsulEndpoint:
    return ConsulEndpoint(addr=_start_native(stack, NativeConsul).addr)


CONSUL_PROVIDERS: list[Provider[ConsulEndpoint]] = [
    Provider("environment", consul_from_environment),
    Provider("native", consul_native),
    Provider("testcontainers", consul_from_container),
]
CONSUL_CONTAINER_PROVIDERS: list[Provider[ConsulEndpoint]] = [
    Provider("testcontainers", consul_from_container),
]


# --- Kafka --------------------------------------------------------------------------------------


def kafka_from_environment(stack: ExitStack) -> KafkaEndpoint:
    bootstrap = _env("ONEX_TEST_KAFKA_BOOTSTRAP")
    host, port = _host_port(bootstrap.split(",")[0], "ONEX_TEST_KAFKA_BOOTSTRAP")
    _expect_answer(lambda: api_versions_ok(port, host), f"ONEX_TEST_KAFKA_BOOTSTRAP={bootstrap}")
    version = os.environ.get("ONEX_TEST_KAFKA_VERSION") or default_kafka_version()
    return KafkaEndpoint(bootstrap=bootstrap, version=version)


def kafka_from_container(stack: ExitStack) -> KafkaEndpoint:
    address = run_service_container(stack, "kafka", lambda a: api_versions_ok(a.port, a.host))
    return KafkaEndpoint(bootstrap=f"{address.host}:{address.port}", version=address.spec.image_tag)


def kafka_native(stack: ExitStack) -> KafkaEndpoint:
    broker = _start_native(stack, NativeKafka)
    return KafkaEndpoint(bootstrap=broker.bootstrap, version=broker.version, controller=broker)


KAFKA_PROVIDERS: list[Provider[KafkaEndpoint]] = [
    Provider("environment", kafka_from_environment),
    Provider("native", kafka_native),
    Provider("testcontainers", kafka_from_container),
]
KAFKA_CONTAINER_PROVIDERS: list[Provider[KafkaEndpoint]] = [
    Provider("testcontainers", kafka_from_container),
]
