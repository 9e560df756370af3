"""build/images.env decides each service's image; without it the deploy/services.yaml image runs."""

from __future__ import annotations

from pathlib import Path

from tests.support.provisioning.images import compose_environment, service_image
from tests.support.provisioning.servicespec import service_spec


def test_a_resolved_local_build_is_used_and_reported_as_one(tmp_path: Path) -> None:
    resolved = tmp_path / "images.env"
    resolved.write_text(
        "# written by scripts/docker/images.sh\n"
        "ONEX_IMAGE_KAFKA=onex-local/kafka:0123456789abcdef\n"
        "ONEX_IMAGE_SOURCE_KAFKA=local-build\n"
        "ONEX_IMAGE_POSTGRES=registry.example/postgres:16\n"
        "ONEX_IMAGE_SOURCE_POSTGRES=override\n",
        encoding="utf-8",
    )
    kafka = service_image("kafka", resolved)
    assert (kafka.image, kafka.is_local_build) == ("onex-local/kafka:0123456789abcdef", True)
    postgres = service_image("postgres", resolved)
    assert (postgres.image, postgres.source, postgres.is_local_build) == (
        "registry.example/postgres:16",
        "override",
        False,
    )


def test_without_the_resolved_file_each_service_runs_its_declared_image(tmp_path: Path) -> None:
    absent = tmp_path / "absent.env"
    chosen = service_image("vault", absent)
    assert (chosen.image, chosen.source) == (service_spec("vault").image, "upstream")
    assert compose_environment(absent)["ONEX_IMAGE_RUNTIME_HOST"] == service_spec("runtime_host").image
