"""The secrets canary: a host whose every secret is a unique canary, driven through failures of every upstream.

Each secret field (Vault token, Consul token, LLM API key, PostgreSQL
password and DSN, the envelope API's bearer token) holds its own canary,
spelled with the characters that encodings treat differently (a quote, a
backslash, a slash, a plus, a percent sign, a space). Every upstream is made to
fail twice: unreachable, and "hostile" (a server that answers 500 with every
request header it received echoed in its body, the way a misbehaving proxy or
an error page does). Then every output channel the host has is searched for
every canary in every encoding: the replies, ``/health``, ``/health/ready``,
``/health/live``, ``/metrics``, the log, and the CLI's own error output.
Zero hits is the only passing result.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from aiohttp import web

from tests.support.builders.host_process import ONEX_HOST, HostProcess

pytestmark = [pytest.mark.http, pytest.mark.slow]

CANARIES = {
    name: f'cnry-{name}-"\\/+% z{index}q'
    for index, name in enumerate(["vault", "consul", "llm", "dbpass", "dsnpass", "api"])
}


def _spellings(secret: str) -> dict[str, str]:
    return {
        "plain": secret,
        "repr": repr(secret)[1:-1],
        "json": json.dumps(secret)[1:-1],
        "url": quote(secret, safe=""),
        "url_plus": quote_plus(secret, safe=""),
        "url_lower": quote(secret, safe="").lower(),
        "base64": base64.b64encode(secret.encode()).decode(),
    }


def _decoded(text: str, depth: int = 0) -> list[str]:
    """``text`` and, where it is JSON (whole or per line), every string inside it, decoded again recursively.

    A secret echoed by an upstream inside its own JSON error, quoted in a reply's
    error text, inside the reply's JSON body, is escaped twice on the wire: the
    search has to undo each layer to see it.
    """
    found = [text]
    if depth > 4:
        return found
    for candidate in [text, *text.splitlines()]:
        try:
            document = json.loads(candidate)
        except ValueError:
            continue
        stack: list[Any] = [document]
        while stack:
            node = stack.pop()
            if isinstance(node, str):
                found.extend(_decoded(node, depth + 1))
            elif isinstance(node, dict):
                stack.extend(node.keys())
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    return found


def _hits(channel: str, text: str) -> list[str]:
    layers = _decoded(text)
    return sorted(
        {
            f"{channel}: {name} canary ({spelling})"
            for name, secret in CANARIES.items()
            for spelling, form in _spellings(secret).items()
            for layer in layers
            if form in layer
        }
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def hostile_upstream() -> Iterator[str]:
    """Answers every request with 500 and the request's own headers and body echoed, as JSON."""
    import asyncio
    import threading

    loop = asyncio.new_event_loop()
    port = _free_port()
    started = threading.Event()

    async def echo(request: web.Request) -> web.Response:
        body = (await request.read()).decode(errors="replace")
        echoed = {"errors": [f"{k}: {v}" for k, v in request.headers.items()] + [body], "message": str(request.url)}
        return web.json_response(echoed, status=500)

    async def serve() -> web.AppRunner:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", echo)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner

    def run() -> None:
        asyncio.set_event_loop(loop)
        runner = loop.run_until_complete(serve())
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


NODE = """\
name: canary
operations:
  vault_get: {handler_type: vault, action: get_secret, side_effects: none}
  consul_get: {handler_type: consul, action: kv_get, side_effects: none}
  consul_register: {handler_type: consul, action: register_service}
  llm_chat: {handler_type: llm, action: chat, side_effects: none}
  db_query: {handler_type: db, action: query, side_effects: none, params: {statement: "SELECT 1"}}
  http_get: {handler_type: http, action: request, side_effects: none}
"""


def _host_contract(tmp_path: Path, upstream: str, dsn_port: int) -> Path:
    (tmp_path / "canary.yaml").write_text(NODE)
    dsn = f"postgresql://onex:{quote(CANARIES['dsnpass'], safe='')}@127.0.0.1:{dsn_port}/onex"
    contract = {
        "name": "canary_host",
        "environment": "test",
        "contracts_directory": str(tmp_path),
        "nodes": [{"slug": "canary", "contract_path": "canary.yaml"}],
        "handlers": [
            {"handler_type": "vault", "config": {"url": upstream, "token": "${C_VAULT}", "timeout_seconds": 2}},
            {"handler_type": "consul", "config": {"url": upstream, "token": "${C_CONSUL}", "timeout_seconds": 2}},
            {
                "handler_type": "llm",
                "config": {"base_url": upstream + "/v1", "model": "m", "api_key": "${C_LLM}", "timeout_seconds": 2},
            },
            {
                "handler_type": "db",
                "config": {
                    "host": "127.0.0.1",
                    "port": dsn_port,
                    "user": "onex",
                    "password": "${C_DBPASS}",
                    "connect_timeout_seconds": 1,
                },
            },
            {"handler_type": "http", "config": {"allowed_hosts": ["127.0.0.1"], "timeout_seconds": 2}},
        ],
        "event_bus": {"type": "memory"},
        "health_endpoint": {"bearer_token": "${C_API}"},
    }
    path = tmp_path / "host.yaml"
    path.write_text(json.dumps(contract))  # JSON is YAML; no quoting surprises for the canaries
    (tmp_path / "dsn_host.yaml").write_text(
        json.dumps({**contract, "handlers": [{"handler_type": "db", "config": {"dsn": dsn}}], "nodes": []})
    )
    return path


def _env() -> dict[str, str]:
    return {f"C_{name.upper()}": value for name, value in CANARIES.items()}


def _call(host: HostProcess, operation: str, handler: str, payload: dict[str, Any]) -> str:
    envelope = {
        "source_node": "probe",
        "target_node": "canary",
        "handler_type": handler,
        "operation": operation,
        "payload": payload,
    }
    response = httpx.post(
        f"{host.url}/v1/envelopes",
        json=envelope,
        headers={"Authorization": f"Bearer {CANARIES['api']}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.text


@pytest.mark.parametrize("upstream_kind", ["unreachable", "hostile"])
def test_no_canary_reaches_any_output_channel(tmp_path: Path, hostile_upstream: str, upstream_kind: str) -> None:
    upstream = hostile_upstream if upstream_kind == "hostile" else f"http://127.0.0.1:{_free_port()}"
    contract = _host_contract(tmp_path, upstream, _free_port())
    outputs: dict[str, str] = {}
    with HostProcess(contract, tmp_path, env=_env(), extra_args=["--log-level", "DEBUG"]) as host:
        host.wait_serving()
        replies = [
            _call(host, "vault_get", "vault", {"path": "app/db"}),
            _call(host, "consul_get", "consul", {"key": "app/flag"}),
            _call(host, "consul_register", "consul", {"name": "svc", "check": {"ttl": "10s"}}),
            _call(host, "llm_chat", "llm", {"messages": [{"role": "user", "content": "hi"}]}),
            _call(host, "db_query", "db", {}),
            _call(host, "http_get", "http", {"url": upstream + "/x", "headers": {"X-Probe": "1"}}),
        ]
        outputs["replies"] = "\n".join(replies)
        for path in ("/health", "/health/ready", "/health/live"):
            outputs[path] = httpx.get(host.url + path, timeout=10).text
        outputs["/metrics"] = httpx.get(host.metrics_url, timeout=10).text
        assert host.terminate() == 0
        outputs["log"] = host.logs()
    dsn_check = subprocess.run(
        [str(ONEX_HOST), "validate", str(tmp_path / "dsn_host.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**_env(), "PATH": "/usr/bin:/bin"},
    )
    outputs["validate (dsn)"] = dsn_check.stdout + dsn_check.stderr
    send = subprocess.run(
        [str(ONEX_HOST), "send", "--url", "http://127.0.0.1:9", "--token", CANARIES["api"], "--payload", "{}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    outputs["send (unreachable)"] = send.stdout + send.stderr

    assert all(outputs.values()), {k: len(v) for k, v in outputs.items()}
    assert "upstream" in outputs["replies"] or "unreachable" in outputs["replies"]  # the failures did happen
    hits = [hit for channel, text in outputs.items() for hit in _hits(channel, text)]
    assert hits == []
