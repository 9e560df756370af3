"""A command sent with a ``traceparent`` yields one trace in a real Zipkin: envelope span, PostgreSQL child span.

Black box: ``onex-host run`` with tracing switched on only by the standard
``OTEL_*`` variables (Zipkin exporter), a command produced with plain aiokafka
carrying W3C trace context in its record headers, the reply read back (its
headers continue the trace), then the trace queried from Zipkin's API. The
envelope API is checked the same way, and no secret of the host appears in
what Zipkin stored.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from onex_host.core.enums import EnumHandlerType
from tests.support.builders.factories import command
from tests.support.builders.host_process import HostProcess
from tests.support.builders.kafka_bus import bus_config, create_topics, headers_of, reading, unique_prefix
from tests.support.builders.kafka_host_contract import write_kafka_host
from tests.support.provisioning.endpoints import KafkaEndpoint, PostgresEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.tracing, pytest.mark.slow]

PASSWORD_ENV = "ONEX_TEST_PG_PASSWORD"
API_TOKEN = "trace-api-token-6c1d"


def _traceparent() -> tuple[str, str, str]:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{parent_id}-01", trace_id, parent_id


async def _trace(zipkin: str, trace_id: str, want: int, timeout: float = 60) -> list[dict[str, Any]]:
    """The spans Zipkin holds for ``trace_id``, once it has at least ``want`` (the exporter batches)."""
    deadline = time.monotonic() + timeout
    spans: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=zipkin, timeout=5) as client:
        while time.monotonic() < deadline:
            response = await client.get(f"/api/v2/trace/{trace_id}")
            if response.status_code == 200:
                spans = response.json()
                if len(spans) >= want:
                    return spans
            await asyncio.sleep(0.3)
    raise AssertionError(f"Zipkin has {len(spans)} span(s) of trace {trace_id}, wanted {want}: {spans}")


def _envelope_span(spans: list[dict[str, Any]]) -> dict[str, Any]:
    matches = [span for span in spans if span.get("tags", {}).get("onex.node")]
    assert len(matches) == 1, spans
    return matches[0]


@pytest.fixture
async def tracer_role(postgres_service: PostgresEndpoint) -> AsyncIterator[tuple[str, str]]:
    """A login role of its own whose password is a canary no span may contain."""
    role, password = f"tracer_{secrets.token_hex(4)}", f"canary-{secrets.token_hex(8)}"
    conn = await asyncpg.connect(postgres_service.dsn)
    try:
        await conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        yield role, password
    finally:
        await conn.execute(f"DROP ROLE IF EXISTS {role}")
        await conn.close()


async def test_a_traced_command_gives_one_trace_with_the_database_call_inside(
    kafka_service: KafkaEndpoint,
    postgres_service: PostgresEndpoint,
    zipkin_service: str,
    tracer_role: tuple[str, str],
    tmp_path: Path,
) -> None:
    role, password = tracer_role
    bootstrap = kafka_service.bootstrap
    bus = bus_config(bootstrap, unique_prefix("traces"))
    await create_topics(bootstrap, [bus.command_topic, bus.reply_topic, bus.effective_dead_letter_topic])
    ledger = {
        "name": "ledger",
        "operations": {
            "now": {"handler_type": "db", "action": "query", "side_effects": "none",
                    "params": {"statement": "SELECT now() AS now, $1::int AS n"}},
        },
    }  # fmt: skip
    handlers = [
        {"handler_type": "db", "config": {
            "host": postgres_service.host, "port": postgres_service.port, "user": role,
            "password": f"${{{PASSWORD_ENV}}}", "database": postgres_service.database, "pool_max_size": 2}},
    ]  # fmt: skip
    contract = write_kafka_host(tmp_path, bus, mode="primary", nodes={"ledger": ledger}, handlers=handlers)
    contract_doc = contract.read_text() + f"health_endpoint: {{bearer_token: {API_TOKEN}}}\n"
    contract.write_text(contract_doc)
    env = {
        PASSWORD_ENV: password,
        "OTEL_TRACES_EXPORTER": "zipkin",
        "OTEL_EXPORTER_ZIPKIN_ENDPOINT": f"{zipkin_service}/api/v2/spans",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_SERVICE_NAME": "onex-trace-test",
    }
    traceparent, trace_id, parent_id = _traceparent()
    request = command(target="ledger", operation="now", handler_type=EnumHandlerType.DB, payload={"args": [7]})

    with HostProcess(contract, tmp_path, env=env) as host:
        await asyncio.to_thread(host.wait_ready, 60)
        async with reading(bootstrap, bus.reply_topic) as replies:
            from aiokafka import AIOKafkaProducer

            producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
            await producer.start()
            try:
                await producer.send_and_wait(
                    bus.command_topic,
                    value=request.to_wire(),
                    key=str(request.correlation_id).encode(),
                    headers=[("traceparent", traceparent.encode())],
                )
            finally:
                await producer.stop()
            records = await replies.wait_for(1, timeout=60)
        api_traceparent, api_trace_id, api_parent_id = _traceparent()
        api_request = command(target="ledger", operation="now", handler_type=EnumHandlerType.DB, payload={"args": [8]})
        api_response = await asyncio.to_thread(
            httpx.post,
            f"{host.url}/v1/envelopes",
            content=api_request.to_wire(),
            headers={"Authorization": f"Bearer {API_TOKEN}", "traceparent": api_traceparent},
            timeout=30,
        )
        spans = await _trace(zipkin_service, trace_id, want=2)
        api_spans = await _trace(zipkin_service, api_trace_id, want=2)
        assert host.terminate() == 0
        log = host.logs()
    assert '"exporter": "zipkin"' in log  # tracing was switched on by the OTEL_* variables alone

    reply_headers = headers_of(records[0])
    assert json.loads(records[0].value)["success"] is True
    assert reply_headers["traceparent"].split("-")[1] == trace_id  # the reply continues the command's trace

    envelope = _envelope_span(spans)
    assert envelope["parentId"] == parent_id
    assert envelope["localEndpoint"]["serviceName"] == "onex-trace-test"
    assert envelope["tags"]["onex.node"] == "ledger"
    assert envelope["tags"]["onex.operation"] == "now"
    assert envelope["tags"]["onex.handler"] == "db"
    assert envelope["tags"]["onex.outcome"] == "ok"
    assert envelope["tags"]["onex.mode"] == "primary"
    assert envelope["tags"]["onex.attempt"] == "1"
    database = [span for span in spans if span.get("tags", {}).get("db.system") == "postgresql"]
    assert database, spans
    assert all(span["parentId"] == envelope["id"] for span in database)
    assert reply_headers["traceparent"].split("-")[2] == envelope["id"]

    assert api_response.status_code == 200
    assert api_response.headers["traceparent"].split("-")[1] == api_trace_id
    assert _envelope_span(api_spans)["parentId"] == api_parent_id

    stored = json.dumps(spans + api_spans)
    assert password not in stored
    assert API_TOKEN not in stored
    assert password not in log
