"""Per-request handlers: one module per upstream, registered in ``onex_host.infra.wiring``."""

from onex_host.infra.handlers.consul import ConsulHandler
from onex_host.infra.handlers.db import DbHandler
from onex_host.infra.handlers.http import HttpHandler
from onex_host.infra.handlers.llm import LlmHandler
from onex_host.infra.handlers.vault import VaultHandler

__all__ = ["ConsulHandler", "DbHandler", "HttpHandler", "LlmHandler", "VaultHandler"]
