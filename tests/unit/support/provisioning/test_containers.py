"""The testcontainers provider steps aside, with a reason, when no Docker engine answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.provisioning.containers import docker_unreachable_reason, run_service_container
from tests.support.provisioning.provision import ServiceUnavailable


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'absent.sock'}")
    docker_unreachable_reason.cache_clear()
    yield
    docker_unreachable_reason.cache_clear()


@pytest.mark.usefixtures("no_docker")
def test_an_absent_docker_engine_makes_the_container_provider_unavailable() -> None:
    with ExitStack() as stack, pytest.raises(ServiceUnavailable, match="no Docker engine reachable"):
        run_service_container(stack, "kafka", lambda address: True)
