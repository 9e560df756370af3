"""Which image each service's container runs: the one place the tests read that choice.

``scripts/docker/images.sh`` (``make docker``) resolves it per service, from
``ONEX_IMAGE_<SERVICE>``, ``ONEX_LOCAL_IMAGES`` and whether a registry answers,
and writes ``build/images.env``; the testcontainers provider and the compose
runs read that file here. Without the file (nothing resolved the images) a
service runs ``deploy/services.yaml``'s upstream image, as before.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.provisioning.servicespec import service_spec

REPOSITORY = Path(__file__).resolve().parents[3]
IMAGES_ENV = REPOSITORY / "build" / "images.env"
SERVICES = ("kafka", "postgres", "vault", "consul", "runtime_host")


@dataclass(frozen=True)
class ServiceImage:
    service: str
    image: str
    source: str
    """``local-build`` (built here by scripts/docker/images.sh), ``upstream`` or ``override``."""

    @property
    def is_local_build(self) -> bool:
        return self.source == "local-build"


def _resolved(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, separator, value = line.partition("=")
        if separator and not line.startswith("#"):
            values[name.strip()] = value.strip()
    return values


def service_image(service: str, path: Path = IMAGES_ENV) -> ServiceImage:
    values = _resolved(path)
    variable = f"ONEX_IMAGE_{service.upper()}"
    if variable in values:
        return ServiceImage(service, values[variable], values.get(f"ONEX_IMAGE_SOURCE_{service.upper()}", "override"))
    return ServiceImage(service, service_spec(service).image, "upstream")


def compose_environment(path: Path = IMAGES_ENV) -> dict[str, str]:
    """The ``ONEX_IMAGE_*`` variables deploy/compose/compose.local.yaml interpolates."""
    return {f"ONEX_IMAGE_{service.upper()}": service_image(service, path).image for service in SERVICES}


def image_labels(image: str, timeout: float = 30) -> dict[str, str]:
    """The image's labels from the engine (empty when it cannot say)."""
    try:
        result = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", image],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if result.returncode != 0:
        return {}
    labels = json.loads(result.stdout or "null")
    return dict(labels) if isinstance(labels, dict) else {}


def describe_image(service: str) -> str:
    """``image (local build: what it is built from)`` or ``image (upstream)``, for the provider report."""
    chosen = service_image(service)
    if not chosen.is_local_build:
        return f"{chosen.image} ({chosen.source})"
    built_from = image_labels(chosen.image).get("io.onex.built-from", "labels unreadable")
    return f"{chosen.image} (local build: {built_from})"
