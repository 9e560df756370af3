"""The testcontainers provider: each service's image (tests/support/images.py), when a Docker engine answers.

Each container joins a network this session creates for it, and its address
port is published on 127.0.0.1 only, at a host port chosen up front, so an
address the service must advertise (Kafka's listener) can name it before
start. Readiness is probed from the host, the way the tests will connect; the
wait is bounded and a timeout reports the container's log.

testcontainers' reaper (Ryuk) is off: it is one more image to pull, and the
session's exit stack removes every container and network it started.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

from tests.support.provisioning.images import ServiceImage, describe_image, service_image
from tests.support.provisioning.native import ServiceStartError, free_port, wait_until
from tests.support.provisioning.provision import ServiceUnavailable
from tests.support.provisioning.servicespec import ServiceSpec, ServiceSpecError, address_env_for, service_spec

DOCKER_PING_TIMEOUT = 3
LOOPBACK = "127.0.0.1"

CONTAINER_IMAGES: dict[str, str] = {}
"""Service -> the image its container ran and what that is built from, for the provider report."""


@dataclass(frozen=True)
class ContainerAddress:
    host: str
    port: int
    spec: ServiceSpec
    image: ServiceImage
    description: str
    """The image and what it is built from, for the provider report."""


@functools.cache
def docker_unreachable_reason() -> str | None:
    """None when a Docker engine answers a ping; otherwise why not (checked once per session)."""
    try:
        import docker  # type: ignore[import-untyped]
    except ImportError:
        return "the docker Python package is not installed"
    try:
        client = docker.from_env(timeout=DOCKER_PING_TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # docker raises DockerException, requests and socket errors alike
        return f"no Docker engine reachable ({type(exc).__name__}); `make docker` installs and starts one"
    return None


def _session_network(stack: ExitStack, service: str) -> object:
    from testcontainers.core.network import Network

    network = Network()
    network.name = f"onex-test-{service}-{uuid.uuid4().hex[:8]}"
    network.create()
    stack.callback(network.remove)
    return network


def run_service_container(
    stack: ExitStack, service: str, ready: Callable[[ContainerAddress], bool], *, timeout: float = 150.0
) -> ContainerAddress:
    """Start ``service``'s container for the session; raises ServiceUnavailable when Docker is absent."""
    reason = docker_unreachable_reason()
    if reason is not None:
        raise ServiceUnavailable(reason)
    try:
        spec = service_spec(service)
    except ServiceSpecError as exc:
        raise ServiceUnavailable(str(exc)) from exc

    from testcontainers.core.config import testcontainers_config
    from testcontainers.core.container import DockerContainer

    testcontainers_config.ryuk_disabled = True
    image = service_image(service)
    container = DockerContainer(image.image).with_envs(**spec.env)
    if spec.command:
        container.with_command(list(spec.command))
    host_port = free_port()
    # Published on loopback only: nothing beyond this machine reaches the session's services.
    container.ports[f"{spec.primary_port}/tcp"] = (LOOPBACK, host_port)  # type: ignore[assignment]
    container.with_envs(**address_env_for(spec, LOOPBACK, host_port))
    container.with_network(_session_network(stack, service))  # type: ignore[arg-type]
    container.with_network_aliases(spec.alias)
    try:
        container.start()
    except Exception as exc:  # image and create errors come from several libraries
        container.stop()
        raise ServiceUnavailable(f"could not start {image.image}: {exc}") from exc
    stack.callback(container.stop)
    address = ContainerAddress(LOOPBACK, host_port, spec, image, describe_image(service))
    CONTAINER_IMAGES[service] = address.description
    try:
        wait_until(lambda: ready(address), timeout=timeout, what=f"{image.image} container on {LOOPBACK}:{host_port}")
    except ServiceStartError as exc:
        logs = b"".join(container.get_logs()).decode(errors="replace")[-3000:]
        raise ServiceUnavailable(f"{exc}\ncontainer log (tail):\n{logs}") from exc
    return address
