"""The http handler makes real requests to real local servers, and refuses what it must."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from onex_host.core import EnumErrorCode, EnumHandlerType
from tests.support.builders.handlers import HostedNode, hosted_node, local_http_server

pytestmark = pytest.mark.http

REQUEST = {"request": {"action": "request"}}
HITS = web.AppKey("hits", list[str])


def _app() -> web.Application:
    app = web.Application()
    hits: list[str] = []
    app[HITS] = hits

    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        hits.append(request.path)
        response: web.StreamResponse = await handler(request)
        return response

    app.middlewares.append(web.middleware(count))

    async def json_route(request: web.Request) -> web.Response:
        return web.json_response(
            {"hello": "world", "query": dict(request.query), "x_test": request.headers.get("X-Test")}
        )

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {"method": request.method, "content_type": request.content_type, "body": body.decode()}
        )

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="plain text", content_type="text/plain")

    async def binary(request: web.Request) -> web.Response:
        return web.Response(body=bytes(range(256)), content_type="application/octet-stream")

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"error": "nope"}, status=int(request.match_info["code"]))

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def chain(request: web.Request) -> web.Response:
        left = int(request.match_info["n"])
        if left == 0:
            return web.json_response({"arrived": True})
        raise web.HTTPFound(f"/chain/{left - 1}")

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "application/octet-stream"
        await response.prepare(request)  # chunked: no Content-Length to refuse up front
        for _ in range(64):
            await response.write(b"x" * 1024)
        return response

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    app.router.add_get("/json", json_route)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/text", text)
    app.router.add_get("/binary", binary)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/chain/{n}", chain)
    app.router.add_get("/big", big)
    app.router.add_get("/slow", slow)
    return app


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    async with local_http_server(_app()) as running:
        yield running


@pytest.fixture
async def other_server() -> AsyncIterator[TestServer]:
    """A second server that the allow-list does not name: it must never be contacted."""
    async with local_http_server(_app()) as running:
        yield running


@pytest.fixture
async def http(server: TestServer) -> AsyncIterator[HostedNode]:
    config = {"timeout_seconds": 2, "allowed_hosts": [f"127.0.0.1:{server.port}"], "max_response_bytes": 16 * 1024}
    async with hosted_node(EnumHandlerType.HTTP, config, REQUEST) as node:
        yield node


def hits(server: TestServer) -> list[str]:
    assert server.app is not None
    return server.app[HITS]


async def test_get_returns_status_headers_and_json_body(http: HostedNode, server: TestServer) -> None:
    reply = await http.call(
        "request",
        {"url": str(server.make_url("/json")), "query": {"a": 1, "b": ["x", "y"]}, "headers": {"X-Test": "yes"}},
    )

    assert reply.success, reply.error
    assert reply.payload["status"] == 200
    assert reply.payload["body_encoding"] == "json"
    assert reply.payload["body"] == {"hello": "world", "query": {"a": "1", "b": "x"}, "x_test": "yes"}
    assert reply.payload["headers"]["content-type"].startswith("application/json")


async def test_post_sends_a_json_body(http: HostedNode, server: TestServer) -> None:
    reply = await http.call("request", {"method": "post", "url": str(server.make_url("/echo")), "json": {"n": 1}})

    assert reply.success, reply.error
    assert reply.payload["body"] == {"method": "POST", "content_type": "application/json", "body": '{"n":1}'}


async def test_put_sends_a_raw_body(http: HostedNode, server: TestServer) -> None:
    reply = await http.call(
        "request",
        {
            "method": "PUT",
            "url": str(server.make_url("/echo")),
            "body": "raw text",
            "headers": {"Content-Type": "text/plain"},
        },
    )

    assert reply.payload["body"] == {"method": "PUT", "content_type": "text/plain", "body": "raw text"}


async def test_text_and_binary_bodies_are_returned_as_text_and_base64(http: HostedNode, server: TestServer) -> None:
    text = await http.call("request", {"url": str(server.make_url("/text"))})
    binary = await http.call("request", {"url": str(server.make_url("/binary"))})

    assert (text.payload["body"], text.payload["body_encoding"]) == ("plain text", "text")
    assert binary.payload["body_encoding"] == "base64"


async def test_an_upstream_error_status_is_an_answer_not_a_failure(http: HostedNode, server: TestServer) -> None:
    reply = await http.call("request", {"url": str(server.make_url("/status/503"))})

    assert reply.success
    assert reply.payload["status"] == 503
    assert reply.payload["body"] == {"error": "nope"}


async def test_redirects_are_followed_within_the_limit(http: HostedNode, server: TestServer) -> None:
    reply = await http.call("request", {"url": str(server.make_url("/chain/3"))})

    assert reply.success, reply.error
    assert reply.payload["body"] == {"arrived": True}
    assert reply.payload["url"].endswith("/chain/0")


async def test_too_many_redirects_is_an_error(server: TestServer) -> None:
    async with hosted_node(EnumHandlerType.HTTP, {"max_redirects": 2, "allowed_hosts": ["127.0.0.1"]}, REQUEST) as node:
        reply = await node.call("request", {"url": str(server.make_url("/chain/3"))})

    assert reply.error_code is EnumErrorCode.UPSTREAM_ERROR
    assert "max_redirects=2" in (reply.error or "")


async def test_a_host_outside_allowed_hosts_is_refused_before_connecting(
    http: HostedNode, other_server: TestServer
) -> None:
    reply = await http.call("request", {"url": str(other_server.make_url("/json"))})

    assert reply.error_code is EnumErrorCode.FORBIDDEN
    assert "allowed_hosts" in (reply.error or "")
    assert hits(other_server) == []


async def test_a_redirect_to_a_host_outside_allowed_hosts_is_refused_before_connecting(
    http: HostedNode, server: TestServer, other_server: TestServer
) -> None:
    target = str(other_server.make_url("/json"))
    reply = await http.call("request", {"url": str(server.make_url("/redirect").with_query(to=target))})

    assert reply.error_code is EnumErrorCode.FORBIDDEN
    assert hits(server) == ["/redirect"]
    assert hits(other_server) == []


async def test_a_response_larger_than_max_response_bytes_is_refused(http: HostedNode, server: TestServer) -> None:
    reply = await http.call("request", {"url": str(server.make_url("/big"))})

    assert reply.error_code is EnumErrorCode.UPSTREAM_ERROR
    assert "max_response_bytes=16384" in (reply.error or "")


async def test_a_slow_server_gives_a_timeout_reply_within_the_timeout(http: HostedNode, server: TestServer) -> None:
    started = time.monotonic()
    reply = await http.call("request", {"url": str(server.make_url("/slow")), "timeout_seconds": 0.3})

    assert reply.error_code is EnumErrorCode.TIMEOUT
    assert time.monotonic() - started < 2


async def test_the_envelope_ttl_caps_the_request_timeout(http: HostedNode, server: TestServer) -> None:
    started = time.monotonic()
    reply = await http.call("request", {"url": str(server.make_url("/slow"))}, ttl=0.3)

    assert reply.error_code is EnumErrorCode.TIMEOUT
    assert time.monotonic() - started < 1.5


async def test_a_server_that_is_down_gives_an_unavailable_reply() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with hosted_node(
        EnumHandlerType.HTTP, {"timeout_seconds": 2, "allowed_hosts": ["127.0.0.1"]}, REQUEST
    ) as node:
        reply = await node.call("request", {"url": f"http://127.0.0.1:{port}/"})
        health = await node.health()

    assert reply.error_code is EnumErrorCode.UPSTREAM_UNAVAILABLE
    assert health["healthy"] is True  # no single upstream: one dead URL says nothing about the handler


async def test_a_contract_pinned_base_url_takes_a_relative_path_only(server: TestServer) -> None:
    operations = {"api": {"action": "request", "params": {"base_url": str(server.make_url("/")), "method": "GET"}}}
    async with hosted_node(EnumHandlerType.HTTP, {"allowed_hosts": ["127.0.0.1"]}, operations) as node:
        ok = await node.call("api", {"path": "json"})
        absolute = await node.call("api", {"url": "http://example.invalid/"})
        traversal = await node.call("api", {"path": "../../etc/passwd"})
        override = await node.call("api", {"path": "echo", "method": "DELETE"})

    assert ok.success, ok.error
    assert ok.payload["body"]["hello"] == "world"
    assert absolute.error_code is EnumErrorCode.FORBIDDEN
    assert traversal.error_code is EnumErrorCode.INVALID_PAYLOAD
    assert override.error_code is EnumErrorCode.FORBIDDEN
    assert "payload.method" in (override.error or "")


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, "payload.url: required field is missing"),
        ({"url": 42}, "payload.url"),
        ({"url": "ftp://example.org/"}, "payload.url"),
        ({"url": "http://127.0.0.1/", "method": "BREW"}, "payload.method"),
        ({"url": "http://127.0.0.1/", "json": {}, "body": "x"}, "at most one of json, body"),
        ({"url": "http://127.0.0.1/", "timeout_seconds": -1}, "payload.timeout_seconds"),
        ({"url": "http://127.0.0.1/", "bogus": 1}, "payload.bogus: unknown field"),
    ],
)
async def test_bad_payloads_are_invalid_payload_replies_naming_the_field(
    http: HostedNode, payload: dict[str, Any], fragment: str
) -> None:
    reply = await http.call("request", payload)

    assert reply.error_code is EnumErrorCode.INVALID_PAYLOAD
    assert fragment in (reply.error or "")
