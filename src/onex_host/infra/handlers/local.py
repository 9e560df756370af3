"""``LocalHandler``: echo and test actions with no external dependency.

DEV/TEST ONLY. It lets a host run with nothing else installed and lets tests
drive slow or failing operations on purpose. A contract whose ``environment``
is ``production`` or ``staging`` is rejected if it enables this handler.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from onex_host.core.enums import EnumErrorCode, EnumHandlerType
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.errors import OperationError
from onex_host.core.operation import OperationContext
from onex_host.infra.handlers.base import BaseHandler, HandlerConfigModel, PayloadModel, action, parse_payload


class LocalHandlerConfig(HandlerConfigModel):
    max_sleep_seconds: float = Field(default=60.0, ge=0)


class SleepPayload(PayloadModel):
    seconds: float = Field(ge=0)
    echo: dict[str, Any] = Field(default_factory=dict)


class FailPayload(PayloadModel):
    message: str = "requested failure"
    code: EnumErrorCode = EnumErrorCode.UPSTREAM_ERROR


class LocalHandler(BaseHandler[LocalHandlerConfig]):
    handler_type = EnumHandlerType.LOCAL
    config_model = LocalHandlerConfig

    @action("echo")
    async def _echo(self, envelope: ModelOnexEnvelope, context: OperationContext) -> dict[str, Any]:
        """Return the request payload unchanged."""
        return envelope.payload

    @action("sleep")
    async def _sleep(self, envelope: ModelOnexEnvelope, context: OperationContext) -> dict[str, Any]:
        """Wait, then echo; stands in for a slow upstream in tests."""
        request = parse_payload(SleepPayload, envelope.payload)
        seconds = min(request.seconds, self.config.max_sleep_seconds)
        remaining = context.remaining()
        if remaining is not None and remaining < seconds:
            await asyncio.sleep(max(remaining, 0))
            raise TimeoutError
        await asyncio.sleep(seconds)
        return {"slept_seconds": seconds, **request.echo}

    @action("fail")
    async def _fail(self, envelope: ModelOnexEnvelope, context: OperationContext) -> dict[str, Any]:
        """Fail with the requested error code; exercises retries and dead-lettering."""
        request = parse_payload(FailPayload, envelope.payload)
        raise OperationError(request.code, request.message)

    async def _probe(self) -> dict[str, Any]:
        return {"dev_only": True}
