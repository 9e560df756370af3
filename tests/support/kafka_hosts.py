"""Runtime host contracts with a Kafka event bus, for black-box ``onex-host run`` tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from onex_host.infra.bus.kafka.config import KafkaBusConfig

NODES_DIR = Path(__file__).resolve().parents[2] / "contracts" / "nodes"


def write_kafka_host_contract(
    directory: Path,
    config: KafkaBusConfig,
    *,
    max_concurrent: int = 100,
    shutdown_timeout_seconds: float = 20,
    name: str = "kafka_test_host",
) -> Path:
    """A dev contract hosting the bundled ``echo`` node, fed by ``config``'s Kafka bus.

    JSON is YAML, so the contract is written as JSON: no quoting surprises.
    """
    bus: dict[str, Any] = config.model_dump(mode="json", exclude_none=True)
    contract = {
        "name": name,
        "environment": "test",
        "contracts_directory": str(NODES_DIR),
        "nodes": [{"slug": "echo", "contract_path": "echo.yaml"}],
        "handlers": [{"handler_type": "local", "config": {"max_sleep_seconds": 60}}],
        "event_bus": {"type": "kafka", "config": bus},
        "max_concurrent_operations": max_concurrent,
        "shutdown_timeout_seconds": shutdown_timeout_seconds,
    }
    path = directory / f"{name}.yaml"
    path.write_text(json.dumps(contract, indent=2))
    return path


def inflight_gauge(metrics_url: str) -> float:
    """``onex_inflight_envelopes`` as the host's /metrics reports it."""
    for line in httpx.get(metrics_url, timeout=5).text.splitlines():
        if line.startswith("onex_inflight_envelopes{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
