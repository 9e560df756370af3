"""`make docker` a second time: the engine that answers is used as is and every image comes from the engine's cache."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.support.provisioning.containers import docker_unreachable_reason
from tests.support.provisioning.images import IMAGES_ENV, SERVICES, service_image

pytestmark = pytest.mark.containers

REPOSITORY = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _engine(request: pytest.FixtureRequest) -> None:
    if (reason := docker_unreachable_reason()) is not None or not IMAGES_ENV.is_file():
        message = f"needs the engine and images of `make docker`: {reason or f'{IMAGES_ENV} is missing'}"
        if request.config.getoption("--require-services", default=False):
            pytest.fail(f"{message} (--require-services is set)", pytrace=False)
        pytest.skip(message)


def _run(*command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, cwd=REPOSITORY)


def test_an_answering_engine_is_used_as_is() -> None:
    result = _run("bash", "scripts/docker/engine.sh", "ensure", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "answers" in result.stdout
    assert "starting dockerd" not in result.stdout
    assert "installing" not in result.stdout


def test_a_second_resolution_builds_nothing_and_chooses_the_same_images() -> None:
    before = {service: service_image(service) for service in SERVICES}
    started = time.monotonic()
    result = _run("bash", "scripts/docker/images.sh")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert "docker build" not in result.stdout + result.stderr
    assert "mmdebstrap" not in result.stdout + result.stderr
    assert {service: service_image(service) for service in SERVICES} == before
    assert elapsed < 120, f"resolving cached images took {elapsed:.0f}s"
