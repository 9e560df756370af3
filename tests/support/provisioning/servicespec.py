"""``deploy/services.yaml`` as the test suite needs it, read through ``ci.service_topology``.

``ci.service_topology`` is the one reader of that file (the Dagger pipeline
and the appliance tests use it too); this module only adds what the test
providers need on top: a lookup by name that names the declared services, and
the address variables filled in for a host port that is not the image's own.
So the testcontainers provider starts exactly what the Dagger pipeline and the
deploy manifests start, and the native provider reuses the same credentials
and the same Kafka version.
"""

from __future__ import annotations

from pathlib import Path

from ci.service_topology import SERVICES_FILE, Service, TopologyError, parse_topology

SERVICES_YAML = Path(__file__).resolve().parents[3] / SERVICES_FILE

ServiceSpec = Service
ServiceSpecError = TopologyError
"""``deploy/services.yaml`` is missing, malformed or lacks what a caller needs."""


def load_service_specs(path: Path = SERVICES_YAML) -> dict[str, Service]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ServiceSpecError(f"cannot read {path}: {exc}") from exc
    return dict(parse_topology(text).services)


def service_spec(name: str, path: Path = SERVICES_YAML) -> Service:
    specs = load_service_specs(path)
    try:
        return specs[name]
    except KeyError:
        raise ServiceSpecError(f"{path} declares no service {name!r} (it has: {', '.join(sorted(specs))})") from None


def address_env_for(service: Service, host: str, port: int) -> dict[str, str]:
    """The container env naming the address clients reach it by, for a published ``host:port``."""
    return {key: value.format(host=host, port=port) for key, value in service.address_env.items()}
