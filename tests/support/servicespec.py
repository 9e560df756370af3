"""Reader of ``deploy/services.yaml``, the one place images, ports and env are declared.

The testcontainers provider starts exactly what the Dagger pipeline and the
deploy manifests start, and the native provider reuses the same credentials and
the same Kafka version, so the three ways of getting a service cannot drift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

SERVICES_YAML = Path(__file__).resolve().parents[2] / "deploy" / "services.yaml"


class ServiceSpec(BaseModel):
    """One entry of ``services:``: the fields the test suite uses (others, e.g. ``runtime_env``, are ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    image: str
    ports: dict[str, int]
    env: dict[str, str] = Field(default_factory=dict)
    address_env: dict[str, str] = Field(default_factory=dict)
    """Container env naming the address clients reach it by; ``{host}`` and ``{port}`` are filled in."""
    command: list[str] | None = None
    readiness: dict[str, Any] = Field(default_factory=dict)

    @property
    def main_port(self) -> int:
        """The first declared port: the service's address (what ``{port}`` means)."""
        if not self.ports:
            raise ServiceSpecError(f"image {self.image!r} declares no ports")
        return next(iter(self.ports.values()))

    def address_env_for(self, host: str, port: int) -> dict[str, str]:
        return {key: value.format(host=host, port=port) for key, value in self.address_env.items()}

    @property
    def image_tag(self) -> str:
        """The tag of ``image`` (``apache/kafka:4.1.0`` -> ``4.1.0``)."""
        _, sep, tag = self.image.rpartition(":")
        if not sep or "/" in tag:
            raise ServiceSpecError(f"image {self.image!r} has no tag")
        return tag

    def port(self, name: str) -> int:
        try:
            return self.ports[name]
        except KeyError:
            raise ServiceSpecError(f"image {self.image!r} declares no port named {name!r}") from None


class ServiceSpecError(ValueError):
    """``deploy/services.yaml`` is missing, malformed or lacks what a caller needs."""


def load_service_specs(path: Path = SERVICES_YAML) -> dict[str, ServiceSpec]:
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ServiceSpecError(f"cannot read {path}: {exc}") from exc
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict):
        raise ServiceSpecError(f"{path}: expected a top-level 'services:' mapping")
    try:
        return {name: ServiceSpec.model_validate(entry) for name, entry in services.items()}
    except ValueError as exc:
        raise ServiceSpecError(f"{path}: {exc}") from exc


def service_spec(name: str, path: Path = SERVICES_YAML) -> ServiceSpec:
    specs = load_service_specs(path)
    try:
        return specs[name]
    except KeyError:
        raise ServiceSpecError(f"{path} declares no service {name!r} (it has: {', '.join(sorted(specs))})") from None
