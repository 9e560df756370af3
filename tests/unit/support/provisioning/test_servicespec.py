"""deploy/services.yaml as the test suite reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.provisioning.servicespec import ServiceSpecError, address_env_for, load_service_specs, service_spec


def test_the_repository_declares_every_backing_service_with_a_pinned_image() -> None:
    specs = load_service_specs()
    for name in ("postgres", "vault", "consul", "kafka"):
        assert specs[name].image_tag not in ("", "latest")
        assert specs[name].primary_port > 0


def test_the_kafka_image_advertises_the_address_clients_use() -> None:
    assert address_env_for(service_spec("kafka"), "127.0.0.1", 40001) == {
        "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://127.0.0.1:40001"
    }


def test_an_unknown_service_names_the_ones_declared() -> None:
    with pytest.raises(ServiceSpecError, match=r"no service 'redis'.*kafka"):
        service_spec("redis")


def test_a_file_without_a_services_mapping_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "services.yaml"
    path.write_text("kafka: {image: apache/kafka:4.1.0}\n")
    with pytest.raises(ServiceSpecError, match=r"services\.runtime_host is missing"):
        load_service_specs(path)


def test_an_image_without_a_tag_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "services.yaml"
    path.write_text("services:\n  kafka: {image: 'registry:5000/kafka', ports: {kafka: 9092}}\n")
    with pytest.raises(ServiceSpecError, match="must carry a pinned tag"):
        load_service_specs(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ServiceSpecError, match=r"cannot read .*absent\.yaml"):
        load_service_specs(tmp_path / "absent.yaml")
