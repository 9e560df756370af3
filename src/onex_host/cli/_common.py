"""What every subcommand shares: exit codes, contract lookup, error type."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def number_in(
    kind: type[int] | type[float],
    *,
    low: float,
    high: float | None = None,
    low_open: bool = False,
    what: str = "",
    out_of_range: str = "",
) -> Callable[[str], Any]:
    """An argparse type: a number of ``kind`` in [low, high] (or (low, high] with ``low_open``), else one clear line."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {what or 'number'}: {text!r}") from None
        too_low = value <= low if low_open else value < low
        if too_low or (high is not None and value > high):
            if out_of_range:
                raise argparse.ArgumentTypeError(out_of_range.format(text=text))
            if high is None:
                raise argparse.ArgumentTypeError(f"must be positive: {text}")
            raise argparse.ArgumentTypeError(f"{what or 'value'} out of range {low:g}-{high:g}: {text}")
        return value

    return parse


port_number = number_in(int, low=0, high=65535, what="port")
"""argparse type for a TCP port (0 lets the kernel choose)."""


def add_host_url_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """``--url``: the running host to talk to (``$ONEX_HOST_URL``), one default for every such command."""
    parser.add_argument(
        "--url",
        default=os.environ.get("ONEX_HOST_URL", "http://127.0.0.1:8080"),
        help=f"host base URL, {what} (default: $ONEX_HOST_URL or http://127.0.0.1:8080)",
    )
