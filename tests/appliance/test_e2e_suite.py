"""tests/e2e, which `dagger call e2e` runs against the image, is itself proven here against a running host.

The image cannot run on this machine; the bundled dev contract can, and the
black-box tests only speak HTTP, so a drift between them and the host's API
shows up on every `make test` instead of on the first Dagger run.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from tests.appliance.tooling import explain, run_tool
from tests.support.host_process import HostProcess

pytestmark = pytest.mark.appliance


def test_e2e_suite_passes_against_a_running_host(tmp_path: Path) -> None:
    with HostProcess(None, tmp_path) as host:
        host.wait_ready()
        environment = {
            **os.environ,
            "ONEX_E2E_HOST_URL": host.url,
            "ONEX_E2E_METRICS_URL": f"http://127.0.0.1:{host.metrics_port}",
        }
        result = run_tool(
            [sys.executable, "-m", "pytest", "tests/e2e", "-q", "-p", "no:cacheprovider", "--require-services"],
            env=environment,
        )
        host.terminate()
    assert result.returncode == 0, explain(result)
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary), summary
    assert "skipped" not in summary, summary
