"""What every subcommand shares: exit codes, contract lookup, error type."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

DEV_CONTRACT = Path("runtime") / "dev_runtime_host.yaml"


class CliError(Exception):
    """A user-facing failure: printed as one ``error:`` line, then exit with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def bundled_contracts_dir() -> Path:
    """Contracts shipped in the wheel, or the repository's ``contracts/`` in a checkout."""
    packaged = Path(__file__).resolve().parent.parent / "_contracts"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "contracts"


def resolve_contract(argument: str | None) -> Path:
    """The contract to run: the argument, else ``$ONEX_CONTRACT``, else the bundled dev contract."""
    chosen = argument or os.environ.get("ONEX_CONTRACT")
    path = Path(chosen) if chosen else bundled_contracts_dir() / DEV_CONTRACT
    if not path.is_file():
        raise CliError(f"{path}: (file): contract file not found")
    return path


def port_number(text: str) -> int:
    """argparse type for a TCP port (0 lets the kernel choose)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {value}")
    return value
