"""tests/e2e, which `dagger call e2e` runs against the image, is itself proven here against a running host.

The image cannot run on this machine; the bundled dev contract can, and the
black-box tests only speak HTTP, so a drift between them and the host's API
shows up on every `make test` instead of on the first Dagger run.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path

import pytest
import yaml

from tests.appliance.tooling import REPOSITORY, explain, run_tool
from tests.support.builders.host_process import HostProcess

pytestmark = pytest.mark.appliance

DEV_CONTRACT = REPOSITORY / "contracts" / "runtime" / "dev_runtime_host.yaml"
KAFKA_E2E = "tests/e2e/test_image_runs_a_postgres_operation_sent_through_kafka.py"


def _dev_contract_with_token(tmp_path: Path) -> Path:
    """The bundled dev contract, with the envelope API behind ONEX_API_TOKEN as in a container."""
    contract = yaml.safe_load(DEV_CONTRACT.read_text(encoding="utf-8"))
    contract["contracts_directory"] = str((DEV_CONTRACT.parent / contract["contracts_directory"]).resolve())
    contract.setdefault("health_endpoint", {})["bearer_token"] = "${ONEX_API_TOKEN}"
    path = tmp_path / "dev_runtime_host_with_token.yaml"
    path.write_text(yaml.safe_dump(contract), encoding="utf-8")
    return path


def test_e2e_suite_passes_against_a_running_host(tmp_path: Path) -> None:
    token = secrets.token_urlsafe(16)
    with HostProcess(_dev_contract_with_token(tmp_path), tmp_path, env={"ONEX_API_TOKEN": token}) as host:
        host.wait_ready()
        environment = {
            **os.environ,
            "ONEX_E2E_HOST_URL": host.url,
            "ONEX_E2E_METRICS_URL": f"http://127.0.0.1:{host.metrics_port}",
            "ONEX_E2E_API_TOKEN": token,
        }
        result = run_tool(
            [
                *(sys.executable, "-m", "pytest", "tests/e2e", "-q", "-p", "no:cacheprovider", "--require-services"),
                # The dev host has no Kafka bus; the compose stack run (tests/integration/containers) runs this one.
                *("--deselect", KAFKA_E2E),
            ],
            env=environment,
        )
        host.terminate()
    assert result.returncode == 0, explain(result)
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary), summary
    assert "skipped" not in summary, summary
