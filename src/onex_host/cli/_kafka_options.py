"""Kafka connection options shared by ``dlq``, ``shadow-diff`` and ``offsets``.

Either name the brokers (``--bootstrap-servers``, else ``$KAFKA_BOOTSTRAP_SERVERS``)
or point at a runtime host contract (``--contract``), whose kafka
``event_bus.config`` then supplies the brokers, TLS and SASL settings and the
default topics and groups, so the tools talk to a cluster exactly as the host does.
Every such value is chosen by ``option_or_contract``: the command line wins,
then the contract, then (without a contract) the environment.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from onex_host.cli._common import EXIT_USAGE, CliError
from onex_host.core.contracts import ModelEventBusConfig
from onex_host.core.loader import interpolate, parse_yaml_mapping, validate_model
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.kafka_tools.errors import BadToolInputError

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


def option_or_contract(
    option: str,
    given: str | None,
    bus: KafkaBusConfig | None,
    from_contract: Callable[[KafkaBusConfig], str],
    *,
    env: str | None = None,
) -> str:
    """The value of ``option``: as given on the command line, else the ``--contract``'s, else ``$env``.

    The environment comes last and only without a contract: a contract names
    one cluster completely, and a variable left over in the shell must not
    point half of a run at another. Without any of them the option is
    required, and the message says every way to give it.
    """
    if given:
        return given
    if bus is not None:
        return from_contract(bus)
    if env is not None and (from_env := os.environ.get(env)):
        return from_env
    ways = f"set ${env}, or give --contract" if env is not None else "give --contract"
    raise CliError(f"{option}: required (or {ways})", EXIT_USAGE)


def client_settings(args: argparse.Namespace, bus: KafkaBusConfig | None) -> dict[str, Any]:
    """aiokafka client settings: TLS and SASL from the contract, the brokers by ``option_or_contract``."""
    settings: dict[str, Any] = bus.client_settings() if bus is not None else {"client_id": "onex-host-tools"}
    servers = option_or_contract(
        "--bootstrap-servers", args.bootstrap_servers, bus, lambda b: ",".join(b.bootstrap_servers), env=BOOTSTRAP_ENV
    )
    settings["bootstrap_servers"] = _parse_servers(servers)
    return settings


@contextlib.contextmanager
def reported_against(option: str) -> Iterator[None]:
    """Name ``option`` in a bad-input error the tool found only at the brokers (a topic that does not exist).

    The exit code is still chosen by ``main``; this only says which option to fix.
    """
    try:
        yield
    except BadToolInputError as exc:
        exc.option = option
        raise


def _parse_servers(text: str) -> list[str]:
    servers = [part.strip() for part in text.split(",") if part.strip()]
    for server in servers:
        host, _, port = server.rpartition(":")
        if not host or not port.isdigit():
            raise CliError(f"--bootstrap-servers: {server!r} is not host:port")
    if not servers:
        raise CliError("--bootstrap-servers: no server given")
    return servers
