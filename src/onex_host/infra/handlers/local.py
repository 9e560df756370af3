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
from onex_host.core.errors import OperationError
from onex_host.core.operation import OperationContext
from onex_host.infra.handlers.base import BaseHandler, HandlerConfigModel, PayloadModel, action


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
    async def _echo(self, payload: dict[str, Any], context: OperationContext) -> dict[str, Any]:
        """Return the request payload unchanged."""
        return payload

    @action("sleep", payload=SleepPayload)
    async def _sleep(self, request: SleepPayload, context: OperationContext) -> dict[str, Any]:
        """Wait, then echo; stands in for a slow upstream in tests."""
        seconds = min(request.seconds, self.config.max_sleep_seconds)
        remaining = context.remaining()
        if remaining is not None and remaining < seconds:
            await asyncio.sleep(max(remaining, 0))
            raise TimeoutError
        await asyncio.sleep(seconds)
        return {"slept_seconds": seconds, **request.echo}

    @action("fail", payload=FailPayload)
    async def _fail(self, request: FailPayload, context: OperationContext) -> dict[str, Any]:
        """Fail with the requested error code; exercises retries and dead-lettering."""
        raise OperationError(request.code, request.message)

    async def _probe(self) -> dict[str, Any]:
        return {"dev_only": True}
