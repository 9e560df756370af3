"""Process-wide logging: JSON lines off a TTY, readable text on one, secrets masked.

Every formatted line (tracebacks and ``extra`` fields included) goes through
``onex_host.core.scrubbing.scrub``, the scrubber every output channel shares.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

from onex_host.core.scrubbing import scrub
from onex_host.infra.tracing import TraceIdsFilter

LogFormat = Literal["auto", "json", "text"]


class _RedactingJsonFormatter(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class _RedactingTextFormatter(logging.Formatter):
    _RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in self._RESERVED and not k.startswith("_")}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return scrub(line)


def configure_logging(level: str = "INFO", fmt: LogFormat = "auto") -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    if use_json:
        handler.setFormatter(
            _RedactingJsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                datefmt="%Y-%m-%dT%H:%M:%S%z",
                rename_fields={"levelname": "level", "asctime": "time", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(_RedactingTextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(TraceIdsFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Client libraries log connection chatter at INFO; keep the host's own lines readable.
    for noisy in ("aiokafka", "kafka", "httpx", "httpcore", "aiohttp.access", "hvac"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
