"""``onex_ready``, the gauge the OnexHostNotReady alert reads: 1 exactly when /health/ready would answer 200."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from onex_host.core.file_registry import load_host
from onex_host.infra.process import HEALTH_CACHE_S, RuntimeHostProcess
from tests.observability.tooling import REPOSITORY

pytestmark = pytest.mark.observability

HOST = f"""\
name: readiness_host
environment: test
contracts_directory: {REPOSITORY / "contracts" / "nodes"}
nodes:
  - {{slug: echo, contract_path: echo.yaml}}
handlers:
  - {{handler_type: local}}
event_bus: {{type: memory}}
health_endpoint: {{port: 0}}
metrics_endpoint: {{port: 0}}
shutdown_timeout_seconds: 5
"""


def onex_ready(process: RuntimeHostProcess) -> float:
    for line in process.render_metrics().decode().splitlines():
        if line.startswith('onex_ready{mode="primary"} '):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no onex_ready sample on /metrics")


async def test_onex_ready_follows_the_lifecycle_and_the_handlers_health(tmp_path: Path) -> None:
    contract = tmp_path / "host.yaml"
    contract.write_text(HOST)
    process = RuntimeHostProcess(load_host(contract, env={}))
    assert onex_ready(process) == 0.0  # not started yet
    await process.start()
    try:
        assert onex_ready(process) == 1.0
        assert (await process.health()).ready
        assert onex_ready(process) == 1.0

        await process.runtime.shutdown()  # the handlers go away: the next probe finds them unhealthy
        await asyncio.sleep(HEALTH_CACHE_S + 0.1)
        assert not (await process.health()).ready
        assert onex_ready(process) == 0.0
    finally:
        await process.stop()
    assert onex_ready(process) == 0.0  # stopped
