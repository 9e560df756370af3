"""The provider chain: first delivering provider wins, misconfiguration fails, nothing available skips or fails."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from tests.support.provisioning import provision
from tests.support.provisioning.provision import (
    Provider,
    Provision,
    ServiceMisconfigured,
    ServiceUnavailable,
    provide_service,
)


@pytest.fixture(autouse=True)
def own_provision_log(monkeypatch: pytest.MonkeyPatch) -> list[Provision]:
    """Keeps these fake provisions out of the session's "backing services" summary."""
    log: list[Provision] = []
    monkeypatch.setattr(provision, "PROVISIONS", log)
    return log


class Recorder:
    def __init__(self) -> None:
        self.called: list[str] = []

    def delivering(self, name: str, endpoint: str) -> Provider[str]:
        def provide(stack: ExitStack) -> str:
            self.called.append(name)
            return endpoint

        return Provider(name, provide)

    def failing(self, name: str, error: Exception) -> Provider[str]:
        def provide(stack: ExitStack) -> str:
            self.called.append(name)
            raise error

        return Provider(name, provide)


def test_the_first_provider_that_delivers_wins_and_later_ones_are_not_tried(own_provision_log: list[Provision]) -> None:
    calls = Recorder()
    providers = [
        calls.failing("environment", ServiceUnavailable("ONEX_TEST_X is not set")),
        calls.delivering("testcontainers", "container-endpoint"),
        calls.delivering("native", "native-endpoint"),
    ]
    with ExitStack() as stack:
        endpoint = provide_service("x", providers, stack, required=True)
    assert endpoint == "container-endpoint"
    assert calls.called == ["environment", "testcontainers"]
    assert own_provision_log == [Provision("x", "testcontainers", "container-endpoint")]


def test_nothing_available_skips_naming_every_provider_tried() -> None:
    calls = Recorder()
    providers = [
        calls.failing("environment", ServiceUnavailable("ONEX_TEST_X is not set")),
        calls.failing("native", ServiceUnavailable("x not found; run `make services`")),
    ]
    with ExitStack() as stack, pytest.raises(pytest.skip.Exception) as skipped:
        provide_service("x", providers, stack, required=False)
    assert "environment: ONEX_TEST_X is not set" in str(skipped.value)
    assert "native: x not found; run `make services`" in str(skipped.value)


def test_nothing_available_fails_under_require_services() -> None:
    providers = [Recorder().failing("native", ServiceUnavailable("x not found"))]
    with ExitStack() as stack, pytest.raises(pytest.fail.Exception) as failed:
        provide_service("x", providers, stack, required=True)
    assert "native: x not found" in str(failed.value)
    assert "--require-services" in str(failed.value)


def test_a_misconfigured_environment_fails_instead_of_falling_back() -> None:
    calls = Recorder()
    providers = [
        calls.failing("environment", ServiceMisconfigured("ONEX_TEST_X=host:1 does not answer")),
        calls.delivering("native", "native-endpoint"),
    ]
    with ExitStack() as stack, pytest.raises(pytest.fail.Exception, match="does not answer"):
        provide_service("x", providers, stack, required=False)
    assert calls.called == ["environment"]
