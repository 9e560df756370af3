"""The service topology of ``deploy/services.yaml``, typed.

This is the only reader of that file: the Dagger pipeline builds its services
from it and the appliance tests compare deploy/compose and deploy/k8s against
it. It depends on PyYAML alone so the Dagger module stays independent of the
application's dependencies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SERVICES_FILE = Path("deploy") / "services.yaml"
RUNTIME_HOST = "runtime_host"


class TopologyError(ValueError):
    """deploy/services.yaml is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class HttpProbe:
    path: str
    port: int


@dataclass(frozen=True)
class Readiness:
    """Exactly one of ``command`` (run in the container) or ``http`` is set."""

    command: tuple[str, ...] = ()
    http: HttpProbe | None = None


@dataclass(frozen=True)
class ImageContract:
    """What an image of the runtime host promises its runners (``runtime_host.image_contract``).

    flake.nix's image and the local build of scripts/docker/images.sh both
    honour it; the image's ports, default arguments and contract path are the
    service's own ``ports``, ``args`` and ``env``.
    """

    entrypoint: tuple[str, ...]
    user: str
    uid: int
    gid: int
    contracts_dir: str
    read_only_root: bool
    env: Mapping[str, str]

    def dockerfile_lines(self, service: Service) -> str:
        """The Dockerfile instructions that give a local build this contract (appended to its Dockerfile)."""
        environment = {**service.env, **self.env, "PATH": "/app/bin:/usr/local/bin:/usr/bin:/bin"}
        return "\n".join(
            [
                f"RUN groupadd --gid {self.gid} {self.user}"
                f" && useradd --uid {self.uid} --gid {self.gid} --no-create-home --home-dir /var/empty"
                f" --shell /bin/false {self.user}",
                *(f"ENV {name}={json.dumps(value)}" for name, value in environment.items()),
                f"USER {self.uid}:{self.gid}",
                "EXPOSE " + " ".join(f"{port}/tcp" for port in service.ports.values()),
                f"ENTRYPOINT {json.dumps(['/app/bin/' + self.entrypoint[0], *self.entrypoint[1:]])}",
                f"CMD {json.dumps(list(service.args))}",
            ]
        )


@dataclass(frozen=True)
class Service:
    key: str
    alias: str
    image: str
    ports: Mapping[str, int]
    env: Mapping[str, str]
    address_env: Mapping[str, str]
    runtime_env: Mapping[str, str]
    test_env: Mapping[str, str]
    readiness: Readiness
    liveness: Readiness | None = None
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    secret_env: tuple[str, ...] = ()
    image_contract: ImageContract | None = None

    @property
    def primary_port(self) -> int:
        return next(iter(self.ports.values()))

    @property
    def image_repository(self) -> str:
        return self.image.rsplit(":", 1)[0]

    @property
    def image_tag(self) -> str:
        return self.image.rsplit(":", 1)[1]

    def render(self, templates: Mapping[str, str], host: str) -> dict[str, str]:
        """Fill ``{host}``/``{port}`` for a client reaching this service at ``host``."""
        return {name: value.format(host=host, port=self.primary_port) for name, value in templates.items()}

    def own_environment(self) -> dict[str, str]:
        """The service container's environment, with its address filled in by alias."""
        return {**self.env, **self.render(self.address_env, self.alias)}


@dataclass(frozen=True)
class Topology:
    services: Mapping[str, Service] = field(default_factory=dict)

    @property
    def runtime_host(self) -> Service:
        return self.services[RUNTIME_HOST]

    @property
    def backing_services(self) -> list[Service]:
        """The services the runtime host depends on, in declaration order."""
        return [self.services[key] for key in self.runtime_host.depends_on]

    def runtime_host_environment(self) -> dict[str, str]:
        """What the host container gets: its own env plus each dependency's runtime_env by alias."""
        environment = dict(self.runtime_host.env)
        for service in self.backing_services:
            environment.update(service.render(service.runtime_env, service.alias))
        return environment

    def test_environment(self) -> dict[str, str]:
        """The ``ONEX_TEST_*`` variables for a test container that reaches services by alias."""
        environment: dict[str, str] = {}
        for service in self.backing_services:
            environment.update(service.render(service.test_env, service.alias))
        return environment


def _mapping(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise TopologyError(f"{SERVICES_FILE}: {where} must be a mapping, got {type(raw).__name__}")
    return raw


def _strings(raw: Any, where: str) -> dict[str, str]:
    return {str(name): str(value) for name, value in _mapping(raw, where).items()}


def _sequence(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise TopologyError(f"{SERVICES_FILE}: {where} must be a list, got {type(raw).__name__}")
    return tuple(str(item) for item in raw)


def _probe(raw: Any, ports: Mapping[str, int], where: str) -> Readiness:
    spec = _mapping(raw, where)
    if ("command" in spec) == ("http" in spec):
        raise TopologyError(f"{SERVICES_FILE}: {where} needs exactly one of 'command' or 'http'")
    if "command" in spec:
        return Readiness(command=_sequence(spec["command"], f"{where}.command"))
    http = _mapping(spec["http"], f"{where}.http")
    port_name = str(http.get("port", ""))
    if port_name not in ports:
        raise TopologyError(f"{SERVICES_FILE}: {where}.http.port {port_name!r} is not one of {sorted(ports)}")
    return Readiness(http=HttpProbe(path=str(http.get("path", "/")), port=ports[port_name]))


def _image_contract(raw: Any, where: str) -> ImageContract | None:
    if raw is None:
        return None
    spec = _mapping(raw, where)
    try:
        return ImageContract(
            entrypoint=_sequence(spec.get("entrypoint"), f"{where}.entrypoint"),
            user=str(spec["user"]),
            uid=int(spec["uid"]),
            gid=int(spec["gid"]),
            contracts_dir=str(spec["contracts_dir"]),
            read_only_root=bool(spec.get("read_only_root", False)),
            env=_strings(spec.get("env"), f"{where}.env"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TopologyError(f"{SERVICES_FILE}: {where}: missing or malformed {exc}") from None


def _service(key: str, raw: Any) -> Service:
    where = f"services.{key}"
    spec = _mapping(raw, where)
    image = str(spec.get("image", ""))
    if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
        raise TopologyError(f"{SERVICES_FILE}: {where}.image {image!r} must carry a pinned tag")
    ports = {str(name): int(port) for name, port in _mapping(spec.get("ports"), f"{where}.ports").items()}
    if not ports:
        raise TopologyError(f"{SERVICES_FILE}: {where}.ports must name at least one port")
    liveness = spec.get("liveness")
    return Service(
        key=key,
        alias=str(spec.get("alias", key)),
        image=image,
        ports=ports,
        env=_strings(spec.get("env"), f"{where}.env"),
        address_env=_strings(spec.get("address_env"), f"{where}.address_env"),
        runtime_env=_strings(spec.get("runtime_env"), f"{where}.runtime_env"),
        test_env=_strings(spec.get("test_env"), f"{where}.test_env"),
        readiness=_probe(spec.get("readiness"), ports, f"{where}.readiness"),
        liveness=None if liveness is None else _probe(liveness, ports, f"{where}.liveness"),
        command=_sequence(spec.get("command"), f"{where}.command"),
        args=_sequence(spec.get("args"), f"{where}.args"),
        depends_on=_sequence(spec.get("depends_on"), f"{where}.depends_on"),
        secret_env=_sequence(spec.get("secret_env"), f"{where}.secret_env"),
        image_contract=_image_contract(spec.get("image_contract"), f"{where}.image_contract"),
    )


def parse_topology(text: str) -> Topology:
    """Parse the contents of deploy/services.yaml; raises ``TopologyError``."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TopologyError(f"{SERVICES_FILE}: not valid YAML: {exc}") from None
    services = {
        str(key): _service(str(key), raw)
        for key, raw in _mapping(_mapping(document, "the document").get("services"), "services").items()
    }
    if RUNTIME_HOST not in services:
        raise TopologyError(f"{SERVICES_FILE}: services.{RUNTIME_HOST} is missing")
    for dependency in services[RUNTIME_HOST].depends_on:
        if dependency not in services:
            raise TopologyError(
                f"{SERVICES_FILE}: services.{RUNTIME_HOST}.depends_on names {dependency!r}, which is not a service"
            )
    return Topology(services=services)


def load_topology(repository: Path) -> Topology:
    return parse_topology((repository / SERVICES_FILE).read_text(encoding="utf-8"))
