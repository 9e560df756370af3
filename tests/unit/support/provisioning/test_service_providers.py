"""The environment providers: what the ONEX_TEST_* variables must hold, and that they win when set."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.support.provisioning import provision, service_providers
from tests.support.provisioning.native import free_port
from tests.support.provisioning.provision import ServiceMisconfigured, ServiceUnavailable, provide_service
from tests.support.provisioning.service_providers import (
    CONSUL_PROVIDERS,
    consul_from_environment,
    kafka_from_environment,
    postgres_from_environment,
    vault_from_environment,
)

ENV_VARS = (
    "ONEX_TEST_POSTGRES_DSN",
    "ONEX_TEST_VAULT_ADDR",
    "ONEX_TEST_VAULT_TOKEN",
    "ONEX_TEST_CONSUL_ADDR",
    "ONEX_TEST_KAFKA_BOOTSTRAP",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(service_providers, "ENV_PROBE_TIMEOUT", 0.5)
    monkeypatch.setattr(provision, "PROVISIONS", [])


class _LeaderHandler(http.server.BaseHTTPRequestHandler):
    """Answers Consul's leader query the way an agent with a leader does."""

    def do_GET(self) -> None:
        body = b'"127.0.0.1:8300"'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def consul_like_addr() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LeaderHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_endpoint_from_the_environment_wins_over_containers_and_native(
    monkeypatch: pytest.MonkeyPatch, consul_like_addr: str
) -> None:
    monkeypatch.setenv("ONEX_TEST_CONSUL_ADDR", consul_like_addr + "/")
    with ExitStack() as stack:
        endpoint = provide_service("consul", CONSUL_PROVIDERS, stack, required=True)
    assert endpoint.addr == consul_like_addr


@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        (postgres_from_environment, "ONEX_TEST_POSTGRES_DSN"),
        (vault_from_environment, "ONEX_TEST_VAULT_ADDR"),
        (consul_from_environment, "ONEX_TEST_CONSUL_ADDR"),
        (kafka_from_environment, "ONEX_TEST_KAFKA_BOOTSTRAP"),
    ],
)
def test_an_unset_variable_passes_to_the_next_provider(provider: object, variable: str) -> None:
    assert callable(provider)
    with ExitStack() as stack, pytest.raises(ServiceUnavailable, match=variable):
        provider(stack)


@pytest.mark.parametrize("variable", ["ONEX_TEST_VAULT_ADDR", "ONEX_TEST_VAULT_TOKEN"])
def test_half_a_vault_endpoint_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "set")
    missing = {"ONEX_TEST_VAULT_ADDR": "ONEX_TEST_VAULT_TOKEN", "ONEX_TEST_VAULT_TOKEN": "ONEX_TEST_VAULT_ADDR"}[
        variable
    ]
    with ExitStack() as stack, pytest.raises(ServiceMisconfigured, match=missing):
        vault_from_environment(stack)


def test_a_kafka_bootstrap_without_a_port_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEX_TEST_KAFKA_BOOTSTRAP", "broker-without-port")
    with ExitStack() as stack, pytest.raises(ServiceMisconfigured, match="is not host:port"):
        kafka_from_environment(stack)


def test_an_endpoint_that_does_not_answer_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEX_TEST_KAFKA_BOOTSTRAP", f"127.0.0.1:{free_port()}")
    with ExitStack() as stack, pytest.raises(ServiceMisconfigured, match="not ready"):
        kafka_from_environment(stack)


def test_a_postgres_dsn_error_never_shows_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEX_TEST_POSTGRES_DSN", f"postgresql://onex:hunter2@127.0.0.1:{free_port()}/onex")
    with ExitStack() as stack, pytest.raises(ServiceMisconfigured) as error:
        postgres_from_environment(stack)
    assert "onex@127.0.0.1" in str(error.value)
    assert "hunter2" not in str(error.value)
