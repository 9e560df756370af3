"""The fixture layer seen from a pytest run: skip or fail when no provider works, and the service marker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]

A_KAFKA_TEST = """
def test_needs_kafka(kafka_service):
    assert kafka_service.bootstrap
"""


def run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A pytest session where no Kafka can be had: no variable, no Docker engine, an empty install cache."""
    test_file = tmp_path / "test_needs_kafka.py"
    test_file.write_text(A_KAFKA_TEST)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ONEX_TEST_", "PYTEST_")) and key != "DOCKER_HOST"
    }
    env.update(
        ONEX_SERVICES_DIR=str(tmp_path / "no-services"),
        DOCKER_HOST=f"unix://{tmp_path / 'no-docker.sock'}",
        PYTHONPATH=str(ROOT),
    )
    command = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT)]
    return subprocess.run(
        [*command, "-p", "no:cacheprovider", "-rs", str(test_file), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_a_missing_service_skips_the_test_and_says_what_was_tried(tmp_path: Path) -> None:
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "ONEX_TEST_KAFKA_BOOTSTRAP is not set" in result.stdout
    assert "testcontainers: no Docker engine reachable" in result.stdout
    assert "run `make services`" in result.stdout
    assert "kafka: 0 passed, 0 failed, 1 skipped" in result.stdout


@pytest.mark.slow
def test_a_missing_service_fails_the_test_under_require_services(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "--require-services")
    assert result.returncode == 1, result.stdout
    assert "1 error" in result.stdout
    assert "--require-services is set" in result.stdout
    assert "kafka: 0 passed, 1 failed, 0 skipped" in result.stdout


@pytest.mark.slow
def test_tests_using_a_service_fixture_are_selected_by_its_marker(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "-m", "not kafka")
    assert "1 deselected" in result.stdout
