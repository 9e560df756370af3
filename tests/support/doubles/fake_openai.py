"""A small OpenAI-compatible server: what the llm handler is tested against (no real LLM is reachable).

It implements ``/v1/chat/completions``, ``/v1/embeddings`` and ``/v1/models``
with the request and response shapes of the OpenAI HTTP API, checks the
bearer key, and records each request body so tests can see what was sent.
A user message of ``__slow__``, ``__overloaded__`` or ``__broken__`` makes
it answer late, with 429, or with 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.builders.handlers import local_http_server

MODEL = "fake-chat-1"
EMBEDDING_MODEL = "fake-embed-1"


@dataclass
class FakeOpenAI:
    server: TestServer
    api_key: str
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("/v1"))


def _error(status: int, message: str, kind: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "code": None}}, status=status)


def _app(state: dict[str, Any]) -> web.Application:
    @web.middleware
    async def check_key(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {state['api_key']}":
            return _error(401, "Incorrect API key provided", "invalid_request_error")
        response: web.StreamResponse = await handler(request)
        return response

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": MODEL}, {"id": EMBEDDING_MODEL}]})

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        state["requests"].append(body)
        last = body["messages"][-1]["content"]
        if last == "__slow__":
            await asyncio.sleep(5)
        if last == "__overloaded__":
            return _error(429, "Rate limit reached", "rate_limit_error")
        if last == "__broken__":
            return _error(500, "The server had an error", "server_error")
        text = f"echo: {last}"
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(body["messages"]), "completion_tokens": 2, "total_tokens": 3},
            }
        )

    async def embeddings(request: web.Request) -> web.Response:
        body = await request.json()
        state["requests"].append(body)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(text)), float(i), 0.5]}
            for i, text in reversed(list(enumerate(inputs)))  # out of order on purpose: clients sort by index
        ]
        return web.json_response(
            {"object": "list", "model": body["model"], "data": data, "usage": {"prompt_tokens": 1, "total_tokens": 1}}
        )

    app = web.Application(middlewares=[check_key])
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/embeddings", embeddings)
    return app


@asynccontextmanager
async def fake_openai(api_key: str = "sk-test-key") -> AsyncIterator[FakeOpenAI]:
    state: dict[str, Any] = {"api_key": api_key, "requests": []}
    async with local_http_server(_app(state)) as server:
        yield FakeOpenAI(server, api_key, state["requests"])
