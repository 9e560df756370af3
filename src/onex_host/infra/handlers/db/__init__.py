"""The PostgreSQL handler, split by job; see ``handler`` for the map of its modules."""

from onex_host.infra.handlers.db.handler import DbHandler, DbHandlerConfig

__all__ = ["DbHandler", "DbHandlerConfig"]
