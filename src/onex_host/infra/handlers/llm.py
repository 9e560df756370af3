"""``LlmHandler``: chat completions and embeddings from any OpenAI-compatible API, over httpx.

It speaks the ``/chat/completions``, ``/embeddings`` and ``/models`` endpoints
of the OpenAI HTTP API, which vLLM, Ollama, llama.cpp's server, LiteLLM and
others serve too; ``base_url`` includes the version prefix
(``https://api.openai.com/v1``). The model comes from the config (or the
node contract's ``params.model``), never from the payload, and ``max_tokens``
in the config caps what any request may ask for: both are cost controls.

No real LLM is reachable from this project's machines: the tests run it
against a small local aiohttp server that implements those endpoints
(``tests/support/doubles/fake_openai.py``), so what is proven is the wire protocol,
error mapping and limits, not any model's behaviour.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import Field

from onex_host.core.enums import EnumErrorCode, EnumHandlerType
from onex_host.core.errors import OperationError
from onex_host.core.operation import OperationContext
from onex_host.core.secrets import SecretText
from onex_host.infra.handlers._httpx import HttpxHandler, status_failure
from onex_host.infra.handlers._urls import HttpUrlText
from onex_host.infra.handlers.base import HandlerConfigModel, PayloadModel, action


class LlmHandlerConfig(HandlerConfigModel):
    base_url: HttpUrlText = Field(description="API root including the version, e.g. https://host/v1")
    model: str = Field(min_length=1, description="Chat model.")
    embedding_model: str | None = Field(default=None, description="Embedding model; defaults to model.")
    api_key: SecretText | None = Field(default=None, description="From the environment: api_key: ${LLM_API_KEY}")
    timeout_seconds: float = Field(default=60.0, gt=0)
    max_tokens: int = Field(default=1024, ge=1, description="Upper bound for any request's max_tokens.")


class ChatMessage(PayloadModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str


class ChatPayload(PayloadModel):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    stop: list[str] | None = None


class EmbedPayload(PayloadModel):
    input: str | list[str] = Field(min_length=1)


class LlmHandler(HttpxHandler[LlmHandlerConfig]):
    handler_type = EnumHandlerType.LLM
    config_model = LlmHandlerConfig
    contract_keys = frozenset({"model"})
    upstream_name = "LLM API"

    def client_options(self, config: LlmHandlerConfig) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {config.api_key.get_secret_value()}"} if config.api_key else {}
        return {"base_url": config.base_url, "headers": headers, "timeout": config.timeout_seconds}

    async def _probe(self) -> dict[str, Any]:
        listing = await self._post_or_get("GET", "models", None, self.config.timeout_seconds)
        models = {entry.get("id") for entry in listing.get("data", []) if isinstance(entry, dict)}
        return {"model": self.config.model, "model_listed": self.config.model in models, "models": len(models)}

    @action("chat", payload=ChatPayload)
    async def _chat(self, request: ChatPayload, context: OperationContext) -> dict[str, Any]:
        """One chat completion; the reply carries the first choice's text."""
        cap = self.config.max_tokens
        if request.max_tokens is not None and request.max_tokens > cap:
            raise OperationError(
                EnumErrorCode.INVALID_PAYLOAD,
                f"payload.max_tokens: {request.max_tokens} exceeds this host's limit {cap}",
            )
        body: dict[str, Any] = {
            "model": context.spec.params.get("model") or self.config.model,
            "messages": [message.model_dump() for message in request.messages],
            "max_tokens": request.max_tokens or cap,
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop:
            body["stop"] = request.stop
        answer = await self._post_or_get("POST", "chat/completions", body, self._timeout(context))
        try:
            choice = answer["choices"][0]
            content = choice["message"].get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise _malformed("chat/completions", "no choices[0].message") from None
        return {
            "content": content,
            "finish_reason": choice.get("finish_reason"),
            "model": answer.get("model"),
            "usage": answer.get("usage") or {},
        }

    @action("embed", payload=EmbedPayload)
    async def _embed(self, request: EmbedPayload, context: OperationContext) -> dict[str, Any]:
        """Embedding vectors, in the order of the inputs."""
        model = context.spec.params.get("model") or self.config.embedding_model or self.config.model
        answer = await self._post_or_get(
            "POST", "embeddings", {"model": model, "input": request.input}, self._timeout(context)
        )
        try:
            data = sorted(answer["data"], key=lambda item: item["index"])
            vectors = [item["embedding"] for item in data]
        except (KeyError, TypeError):
            raise _malformed("embeddings", "no data[].embedding") from None
        return {"embeddings": vectors, "model": answer.get("model"), "usage": answer.get("usage") or {}}

    def _timeout(self, context: OperationContext) -> float:
        return context.timeout(self.config.timeout_seconds)

    async def _post_or_get(
        self, method: str, path: str, body: dict[str, Any] | None, request_timeout: float
    ) -> dict[str, Any]:
        response = await self.client.request(method, path, json=body, timeout=request_timeout)
        if response.is_error:
            raise status_failure(response, "LLM API", _api_error_message(response))
        try:
            answer = response.json()
        except ValueError:
            raise _malformed(path, "the body is not JSON") from None
        if not isinstance(answer, dict):
            raise _malformed(path, "the body is not a JSON object")
        return answer


def _api_error_message(response: httpx.Response) -> str:
    """OpenAI-style ``{"error": {"message": ...}}``, or the start of the body."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text.strip()[:300]
    return str(message)[:300]


def _malformed(path: str, what: str) -> OperationError:
    return OperationError(EnumErrorCode.UPSTREAM_ERROR, f"LLM API {path}: unexpected answer ({what})")
