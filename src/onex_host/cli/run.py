"""``onex-host run``: start a host and serve until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Mapping

from onex_host.cli._common import EXIT_FAILED, EXIT_OK, CliError, port_number, resolve_contract
from onex_host.core.file_registry import load_host
from onex_host.infra.heap import settle_after_startup
from onex_host.infra.http_api import EndpointOverrides
from onex_host.infra.logging_setup import configure_logging
from onex_host.infra.process import RuntimeHostProcess

logger = logging.getLogger("onex_host.cli")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("contract", nargs="?", help="runtime host contract (YAML)")
    parser.add_argument("--bind", help="address for the health, API and metrics listeners (default: contract)")
    parser.add_argument("--health-port", type=port_number, help="health and envelope API port (default: contract)")
    parser.add_argument("--metrics-port", type=port_number, help="Prometheus metrics port (default: contract)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument(
        "--log-format",
        default="auto",
        choices=["auto", "json", "text"],
        help="auto: JSON lines unless stderr is a terminal",
    )
    parser.add_argument(
        "--standby",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start fully but consume nothing until POST /admin/promote (onex-host promote); "
        "default: $ONEX_STANDBY (true/false), else off",
    )
    parser.set_defaults(func=execute)


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def standby_requested(flag: bool | None, environ: Mapping[str, str] = os.environ) -> bool:
    """``--standby``/``--no-standby``, else ``$ONEX_STANDBY`` (how a Kubernetes overlay sets it), else False."""
    if flag is not None:
        return flag
    value = environ.get("ONEX_STANDBY", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise CliError(f"ONEX_STANDBY: expected true or false, got {value[:40]!r}")


def execute(args: argparse.Namespace) -> int:
    standby = standby_requested(args.standby)
    configure_logging(args.log_level, args.log_format)
    host = load_host(resolve_contract(args.contract))
    process = RuntimeHostProcess(
        host,
        EndpointOverrides(bind=args.bind, health_port=args.health_port, metrics_port=args.metrics_port),
        standby=standby,
    )
    try:
        asyncio.run(process.run(on_started=settle_after_startup))
    except OSError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    return EXIT_OK
