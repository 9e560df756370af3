"""``onex-host validate``: check a contract, its nodes, handlers and bus without starting anything."""

from __future__ import annotations

import argparse
from pathlib import Path

from onex_host.cli._common import EXIT_OK, CliError
from onex_host.core.file_registry import load_host
from onex_host.infra.process import RuntimeHostProcess


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a runtime host contract and every node contract it names",
        description="Exit 0 when the contract would start; otherwise print one 'error: FILE: FIELD: problem' "
        "line per problem and exit 2.",
    )
    parser.add_argument("contract", help="runtime host contract (YAML)")
    parser.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    path = Path(args.contract)
    if not path.is_file():
        raise CliError(f"{path}: (file): contract file not found")
    host = load_host(path)
    # Building the process wires handlers, checks every operation against its
    # handler and validates the bus config, and opens nothing.
    process = RuntimeHostProcess(host)
    contract = host.contract
    handlers = ", ".join(h.value for h in process.runtime.handlers) or "none"
    bus = contract.event_bus.type if contract.event_bus.enabled else "disabled"
    print(f"ok: {path} ({contract.name}: {len(host.nodes)} nodes; handlers: {handlers}; event bus: {bus})")
    return EXIT_OK
