"""The PostgreSQL handler, split by job; see ``handler`` for the map of its modules."""

from onex_host.infra.handlers.db.config import DbHandlerConfig
from onex_host.infra.handlers.db.handler import DbHandler

__all__ = ["DbHandler", "DbHandlerConfig"]
