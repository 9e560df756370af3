"""Kafka connection options shared by ``shadow-diff`` and ``offsets``.

Either name the brokers (``--bootstrap-servers``, else ``$KAFKA_BOOTSTRAP_SERVERS``)
or point at a runtime host contract (``--contract``), whose kafka
``event_bus.config`` then supplies the brokers, TLS and SASL settings and the
default topics and groups, so the tools talk to a cluster exactly as the host does.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from onex_host.cli._common import EXIT_USAGE, CliError
from onex_host.core.contracts import ModelEventBusConfig
from onex_host.core.loader import interpolate, parse_yaml_mapping, validate_model
from onex_host.infra.bus.kafka.config import KafkaBusConfig

BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Kafka connection")
    group.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT[,...]",
        help=f"brokers (default: the --contract's, else ${BOOTSTRAP_ENV})",
    )
    group.add_argument(
        "--verbose", action="store_true", help="show the Kafka client's own log (connection retries and errors)"
    )
    group.add_argument(
        "--contract",
        metavar="FILE",
        help="runtime host contract with a kafka event bus: brokers, TLS, SASL and the default topics "
        "and consumer group are read from its event_bus.config",
    )


def quiet_kafka_client(args: argparse.Namespace) -> None:
    """The tools report a broken connection in one ``error:`` line; aiokafka's own log would
    repeat it as noise on stderr, so it is shown only with ``--verbose``."""
    if args.verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    else:
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def load_bus_config(args: argparse.Namespace) -> KafkaBusConfig | None:
    """The contract's Kafka bus config, or None without ``--contract``; raises ``ContractError``."""
    if not args.contract:
        return None
    path = Path(args.contract)
    section = validate_model(ModelEventBusConfig, _event_bus_section(path), path, prefix="event_bus")
    if section.type != "kafka":
        raise CliError(f"{path}: event_bus.type: is {section.type!r}; these tools need a kafka event bus")
    return validate_model(KafkaBusConfig, section.config, path, prefix="event_bus.config")


def _event_bus_section(path: Path) -> dict[str, Any]:
    """The contract's ``event_bus``, interpolated on its own.

    The tools read nothing else, so the rest of a host contract (database
    passwords, Vault tokens) must not have to be in the environment to compare
    replies or move offsets.
    """
    section = parse_yaml_mapping(path).get("event_bus") or {}
    bus: dict[str, Any] = interpolate(section, path, os.environ, ("event_bus",))
    return bus


def client_settings(args: argparse.Namespace, bus: KafkaBusConfig | None) -> dict[str, Any]:
    """aiokafka client settings: ``--bootstrap-servers`` wins over the contract, which wins over the env."""
    settings: dict[str, Any] = bus.client_settings() if bus is not None else {"client_id": "onex-host-tools"}
    servers = args.bootstrap_servers or (None if bus is not None else os.environ.get(BOOTSTRAP_ENV))
    if servers:
        settings["bootstrap_servers"] = _parse_servers(servers)
    elif bus is None:
        raise CliError(f"--bootstrap-servers: required (or set ${BOOTSTRAP_ENV}, or give --contract)", EXIT_USAGE)
    return settings


def _parse_servers(text: str) -> list[str]:
    servers = [part.strip() for part in text.split(",") if part.strip()]
    for server in servers:
        host, _, port = server.rpartition(":")
        if not host or not port.isdigit():
            raise CliError(f"--bootstrap-servers: {server!r} is not host:port")
    if not servers:
        raise CliError("--bootstrap-servers: no server given")
    return servers
