"""The testcontainers provider: the images of ``deploy/services.yaml``, when a Docker engine answers.

Each container's address port is bound to a host port chosen up front, so an
address the service must advertise (Kafka's listener) can name it before start.
Readiness is probed from the host, the way the tests will connect.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

from tests.support.provisioning.native import ServiceStartError, free_port, wait_until
from tests.support.provisioning.provision import ServiceUnavailable
from tests.support.provisioning.servicespec import ServiceSpec, ServiceSpecError, address_env_for, service_spec

DOCKER_PING_TIMEOUT = 3


@dataclass(frozen=True)
class ContainerAddress:
    host: str
    port: int
    spec: ServiceSpec


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
        return f"no Docker engine reachable ({type(exc).__name__})"
    return None


def run_service_container(
    stack: ExitStack, service: str, ready: Callable[[ContainerAddress], bool], *, timeout: float = 120.0
) -> ContainerAddress:
    """Start ``service``'s container for the session; raises ServiceUnavailable when Docker is absent."""
    reason = docker_unreachable_reason()
    if reason is not None:
        raise ServiceUnavailable(reason)
    try:
        spec = service_spec(service)
    except ServiceSpecError as exc:
        raise ServiceUnavailable(str(exc)) from exc

    from testcontainers.core.container import DockerContainer

    container = DockerContainer(spec.image).with_envs(**spec.env)
    if spec.command:
        container.with_command(list(spec.command))
    host_port = free_port()
    container.with_bind_ports(spec.primary_port, host_port)
    try:
        host = container.get_container_host_ip()
    except Exception as exc:  # inside a container testcontainers needs the container itself to answer this
        raise ServiceUnavailable(f"cannot tell which host the Docker engine publishes ports on: {exc}") from exc
    container.with_envs(**address_env_for(spec, host, host_port))
    try:
        container.start()
    except Exception as exc:  # image pull and create errors come from several libraries
        container.stop()
        raise ServiceUnavailable(f"could not start {spec.image}: {exc}") from exc
    stack.callback(container.stop)
    address = ContainerAddress(host, host_port, spec)
    try:
        wait_until(lambda: ready(address), timeout=timeout, what=f"{spec.image} container on {host}:{host_port}")
    except ServiceStartError as exc:
        raise ServiceUnavailable(f"{exc}\n{container.get_logs()[0].decode(errors='replace')[-2000:]}") from exc
    return address
