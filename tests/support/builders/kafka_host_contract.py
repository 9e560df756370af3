"""Writes a runtime host contract with a Kafka bus, for ``onex-host run`` in black-box tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from onex_host.infra.bus.kafka.config import KafkaBusConfig

ECHO_NODE: dict[str, Any] = {
    "name": "echo",
    "node_kind": "effect",
    "operations": {op: {"handler_type": "local", "side_effects": "none"} for op in ("echo", "sleep", "fail")},
}


def write_kafka_host(
    directory: Path,
    bus: KafkaBusConfig,
    *,
    mode: str | None = None,
    nodes: dict[str, dict[str, Any]] | None = None,
    handlers: list[dict[str, Any]] | None = None,
    name: str = "host",
    max_concurrent: int = 64,
    shutdown_timeout_seconds: float = 15,
    health_endpoint: dict[str, Any] | None = None,
) -> Path:
    """``nodes``: slug -> node contract (default: the echo node); ``handlers`` default to the local one;
    ``mode`` defaults to the bus config's own; ``health_endpoint``: the contract's section (e.g. an admin_token)."""
    mode = mode or bus.mode
    directory.mkdir(parents=True, exist_ok=True)
    refs = []
    for slug, node in (nodes or {"echo": ECHO_NODE}).items():
        (directory / f"{slug}.yaml").write_text(yaml.safe_dump(node))
        refs.append({"slug": slug, "contract_path": f"{slug}.yaml"})
    bus_settings = bus.model_dump(mode="json", exclude_none=True, exclude={"mode"})
    contract = {
        "name": name,
        "environment": "dev",
        "nodes": refs,
        "handlers": handlers or [{"handler_type": "local", "config": {"max_sleep_seconds": 60}}],
        "event_bus": {"type": "kafka", "config": {**bus_settings, "mode": mode}},
        "max_concurrent_operations": max_concurrent,
        "shutdown_timeout_seconds": shutdown_timeout_seconds,
    }
    if health_endpoint is not None:
        contract["health_endpoint"] = health_endpoint
    path = directory / f"{name}-{mode}.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    return path
