"""The process around the runtime: wiring, endpoints, metrics, drain. Local handler, memory bus, loopback ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from onex_host.core.errors import ContractError
from onex_host.core.file_registry import load_host
from onex_host.infra.bus.memory import MemoryEventBus
from onex_host.infra.http_api import EndpointOverrides
from onex_host.infra.process import RuntimeHostProcess
from tests.support.builders.factories import command

HOST = """\
name: unit_host
environment: test
contracts_directory: {nodes}
nodes:
  - slug: echo
    contract_path: echo.yaml
handlers:
  - handler_type: local
event_bus:
  type: memory
  config: {bus_config}
health_endpoint:
  port: 0
  bearer_token: {token}
  admin_token: {admin_token}
metrics_endpoint:
  port: {metrics_port}
max_concurrent_operations: 2
shutdown_timeout_seconds: 5
"""

REPO_NODES = Path(__file__).resolve().parents[3] / "contracts" / "nodes"


def write_host(
    tmp_path: Path, token: str = "null", metrics_port: int = 0, bus_config: str = "{}", admin_token: str = "null"
) -> Path:
    path = tmp_path / "host.yaml"
    path.write_text(
        HOST.format(
            nodes=REPO_NODES, token=token, metrics_port=metrics_port, bus_config=bus_config, admin_token=admin_token
        )
    )
    return path


@pytest.fixture
async def process(tmp_path: Path) -> AsyncIterator[RuntimeHostProcess]:
    process = RuntimeHostProcess(load_host(write_host(tmp_path, token="s3cret-token"), env={}))
    await process.start()
    yield process
    await process.stop()


def url(process: RuntimeHostProcess, name: str, path: str) -> str:
    host, port = process.endpoints.addresses[name]
    return f"http://{host}:{port}{path}"


async def test_health_endpoints_report_ready(process: RuntimeHostProcess) -> None:
    async with httpx.AsyncClient() as client:
        live = await client.get(url(process, "health", "/health/live"))
        ready = await client.get(url(process, "health", "/health/ready"))
        summary = await client.get(url(process, "health", "/health"))
    assert (live.status_code, live.json()) == (200, {"live": True})
    assert ready.status_code == 200
    assert ready.json()["handlers"] == {"local": {"healthy": True, "details": {"dev_only": True}}}
    assert summary.json()["status"] == "healthy"
    assert summary.json()["nodes"] == ["echo"]
    assert "s3cret-token" not in summary.text + ready.text


async def test_envelope_api_requires_the_bearer_token(process: RuntimeHostProcess) -> None:
    request = command(payload={"via": "http"})
    async with httpx.AsyncClient() as client:
        denied = await client.post(url(process, "health", "/v1/envelopes"), content=request.to_wire())
        allowed = await client.post(
            url(process, "health", "/v1/envelopes"),
            content=request.to_wire(),
            headers={"Authorization": "Bearer s3cret-token"},
        )
    assert denied.status_code == 401
    assert "s3cret-token" not in denied.text
    assert allowed.status_code == 200
    assert allowed.json()["payload"] == {"via": "http"}
    assert allowed.json()["correlation_id"] == str(request.correlation_id)


async def test_invalid_envelopes_get_a_400_naming_the_field(process: RuntimeHostProcess) -> None:
    async with httpx.AsyncClient(headers={"Authorization": "Bearer s3cret-token"}) as client:
        missing = await client.post(url(process, "health", "/v1/envelopes"), content=b'{"source_node": "x"}')
        garbage = await client.post(url(process, "health", "/v1/envelopes"), content=b"not json")
    assert missing.status_code == 400
    assert "handler_type: required field is missing" in missing.json()["error"]
    assert garbage.status_code == 400
    assert garbage.json()["error"].startswith("invalid envelope: body: ")


async def test_metrics_count_envelopes_by_node_operation_and_outcome(process: RuntimeHostProcess) -> None:
    assert isinstance(process.bus, MemoryEventBus)
    await process.bus.publish(command())
    await process.bus.publish(command(operation="fail"))
    async with asyncio.timeout(5):
        await process.bus.next_reply()
        await process.bus.next_reply()
    async with httpx.AsyncClient() as client:
        text = (await client.get(url(process, "metrics", "/metrics"))).text
    assert 'onex_envelopes_total{mode="primary",node="echo",operation="echo",outcome="ok"} 1.0' in text
    assert 'onex_envelopes_total{mode="primary",node="echo",operation="fail",outcome="upstream_error"} 1.0' in text
    assert 'onex_inflight_envelopes{mode="primary"} 0.0' in text
    assert "onex_envelope_duration_seconds_bucket" in text


async def test_one_listener_serves_everything_when_ports_match(tmp_path: Path, unused_tcp_port: int) -> None:
    host = load_host(write_host(tmp_path, metrics_port=unused_tcp_port), env={})
    process = RuntimeHostProcess(host, EndpointOverrides(health_port=unused_tcp_port))
    await process.start()
    try:
        async with httpx.AsyncClient() as client:
            metrics = await client.get(f"http://127.0.0.1:{unused_tcp_port}/metrics")
            ready = await client.get(f"http://127.0.0.1:{unused_tcp_port}/health/ready")
        assert metrics.status_code == ready.status_code == 200
        assert list(process.endpoints.addresses) == ["health"]
    finally:
        await process.stop()


async def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    process = RuntimeHostProcess(load_host(write_host(tmp_path), env={}), EndpointOverrides(health_port=port))
    try:
        with pytest.raises(OSError, match=f"cannot listen for health on 127.0.0.1:{port}"):
            await process.start()
    finally:
        await process.stop()
        blocker.close()


async def test_stop_drains_queued_work_before_releasing_handlers(tmp_path: Path) -> None:
    process = RuntimeHostProcess(load_host(write_host(tmp_path), env={}))
    await process.start()
    assert isinstance(process.bus, MemoryEventBus)
    for i in range(4):
        await process.bus.publish(command(operation="sleep", payload={"seconds": 0.2, "echo": {"i": i}}))
    await process.stop()
    replies = [await process.bus.next_reply() for _ in range(4)]
    assert sorted(r.payload["i"] for r in replies) == [0, 1, 2, 3]
    assert all(r.success for r in replies)
    health = await process.health()
    assert (health.ready, health.live) == (False, True)


async def test_request_stop_ends_run(tmp_path: Path) -> None:
    process = RuntimeHostProcess(load_host(write_host(tmp_path), env={}))
    runner = asyncio.create_task(process.run())
    await asyncio.sleep(0.2)
    assert (await process.health()).ready is True
    process.request_stop()
    async with asyncio.timeout(5):
        await runner


def test_a_bad_bus_config_is_a_contract_error(tmp_path: Path) -> None:
    path = write_host(tmp_path, bus_config="{queue_size: 0}")
    with pytest.raises(ContractError, match=r"event_bus\.config\.queue_size: Input should be greater than or equal"):
        RuntimeHostProcess(load_host(path, env={}))


def test_the_envelope_api_is_never_exposed_without_a_token(tmp_path: Path) -> None:
    host = load_host(write_host(tmp_path), env={})
    with pytest.raises(
        ContractError, match=r"health_endpoint\.bearer_token: the envelope API would listen on 0\.0\.0\.0"
    ):
        RuntimeHostProcess(host, EndpointOverrides(bind="0.0.0.0"))
    with_token = load_host(write_host(tmp_path, token="tok-1234"), env={})
    assert RuntimeHostProcess(with_token, EndpointOverrides(bind="0.0.0.0")).endpoints is not None


async def test_made_up_names_do_not_mint_metric_series(process: RuntimeHostProcess) -> None:
    for i in range(5):
        await process.handle_envelope(command(target=f"ghost_{i}"))
        await process.handle_envelope(command(operation=f"op_{i}"))
    text = process.metrics.render().decode()
    assert "ghost_" not in text
    assert "op_" not in text
    assert 'node="(unknown)",operation="(unknown)",outcome="unknown_node"} 5.0' in text
    assert 'node="echo",operation="(unknown)",outcome="unknown_operation"} 5.0' in text


def test_a_bad_handler_config_is_reported_against_its_handler_entry(tmp_path: Path) -> None:
    path = write_host(tmp_path)
    path.write_text(
        path.read_text().replace(
            "  - handler_type: local\n", "  - handler_type: local\n    config: {max_sleep_seconds: -1}\n"
        )
    )
    with pytest.raises(ContractError, match=r"handlers\[0\]\.config\.max_sleep_seconds: Input should be greater"):
        RuntimeHostProcess(load_host(path, env={}))
