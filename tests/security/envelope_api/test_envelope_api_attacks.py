"""Attacks on ``POST /v1/envelopes``: bounds, authentication and what the metrics let a sender mint."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from onex_host.core.file_registry import load_host
from onex_host.infra.process import RuntimeHostProcess
from tests.unit.infra.test_process import write_host

TOKEN = "api-token-0b7c"


@pytest.fixture
async def process(tmp_path: Path) -> AsyncIterator[RuntimeHostProcess]:
    process = RuntimeHostProcess(load_host(write_host(tmp_path, token=TOKEN), env={}))
    await process.start()
    yield process
    await process.stop()


def _address(process: RuntimeHostProcess, name: str = "health") -> tuple[str, int]:
    return process.endpoints.addresses[name]


def _url(process: RuntimeHostProcess, path: str, name: str = "health") -> str:
    host, port = _address(process, name)
    return f"http://{host}:{port}{path}"


def _envelope(**fields: Any) -> dict[str, Any]:
    return {"source_node": "probe", "target_node": "echo", "handler_type": "local", "operation": "echo", **fields}


async def _post(process: RuntimeHostProcess, body: bytes, authorization: str = f"Bearer {TOKEN}") -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(_url(process, "/v1/envelopes"), content=body, headers={"Authorization": authorization})


@pytest.mark.parametrize(
    "raw",
    [
        '"ttl_seconds": Infinity',
        '"ttl_seconds": -Infinity',
        '"ttl_seconds": NaN',
        '"ttl_seconds": 1e400',
        '"ttl_seconds": 1e12',
        '"timestamp": "9999-12-31T23:59:59Z", "ttl_seconds": 5',
        '"timestamp": "9999-12-31T23:59:59Z"',
    ],
)
async def test_unbounded_times_are_a_400_naming_the_field(process: RuntimeHostProcess, raw: str) -> None:
    body = json.dumps(_envelope())[:-1] + ", " + raw + "}"

    response = await _post(process, body.encode())

    assert response.status_code == 400, response.text
    assert "ttl_seconds" in response.text or "timestamp" in response.text


async def test_deeply_nested_json_is_a_400(process: RuntimeHostProcess) -> None:
    body = json.dumps(_envelope())[:-1] + ', "payload": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}"

    response = await _post(process, body.encode())

    assert response.status_code == 400


@pytest.mark.parametrize(
    "authorization",
    [TOKEN, f"Basic {TOKEN}", f"Token {TOKEN}", f"Bearer{TOKEN}", f"Bearer {TOKEN}x", "Bearer", ""],
)
async def test_only_the_bearer_scheme_with_the_token_is_accepted(
    process: RuntimeHostProcess, authorization: str
) -> None:
    response = await _post(process, json.dumps(_envelope()).encode(), authorization)

    assert response.status_code == 401


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER  {TOKEN}"])
async def test_the_scheme_is_case_insensitive(process: RuntimeHostProcess, authorization: str) -> None:
    response = await _post(process, json.dumps(_envelope()).encode(), authorization)

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("raw_header", [b"Bearer \xff\xfe\x80", b"\xc3\x28 token", b"Bearer " + b"\x80" * 64])
async def test_an_authorization_header_that_is_not_utf8_is_a_401(
    process: RuntimeHostProcess, raw_header: bytes
) -> None:
    host, port = _address(process)
    body = json.dumps(_envelope()).encode()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        b"POST /v1/envelopes HTTP/1.1\r\nHost: x\r\nAuthorization: " + raw_header + b"\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()

    assert status_line.split()[1] == b"401", status_line


def _series(metrics: str, name: str) -> list[str]:
    return [line for line in metrics.splitlines() if line.startswith(name + "{")]


async def test_made_up_names_mint_no_metric_series(process: RuntimeHostProcess) -> None:
    async with httpx.AsyncClient() as client:
        before = _series((await client.get(_url(process, "/metrics", "metrics"))).text, "onex_envelopes_total")
    bodies = []
    for index in range(200):
        name = f"n{uuid.uuid4().hex[:8]}"
        bodies += [
            _envelope(target_node=name, operation=name),
            _envelope(operation=name),
            _envelope(target_node=None, operation=name),
            _envelope(target_node=name, operation=name, is_response=True),
            _envelope(operation=name, timestamp="2001-01-01T00:00:00Z", ttl_seconds=1),
        ][index % 5 : index % 5 + 1]
    for body in bodies:
        response = await _post(process, json.dumps(body).encode())
        assert response.status_code == 200
    async with httpx.AsyncClient() as client:
        after = _series((await client.get(_url(process, "/metrics", "metrics"))).text, "onex_envelopes_total")

    minted = {line.rsplit(" ", 1)[0] for line in after} - {line.rsplit(" ", 1)[0] for line in before}
    assert len(minted) <= 6, minted  # (unknown) labels per outcome, not one series per name
    assert all("(unknown)" in line for line in minted), minted
