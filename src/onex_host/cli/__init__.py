"""``onex-host``: run, feed and check a Runtime Host.

Exit codes: 0 success; 1 the operation failed (an error reply, a host that
would not start); 2 bad input (contract, arguments); 3 a host or broker that
cannot be reached. User errors print one ``error: ...`` line each, never a
traceback. The Kafka tools' errors (``KafkaToolError``) get their exit code
here and nowhere else, by kind: bad input 2, brokers unreachable 3, refused 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from onex_host.cli import asyncapi, dlq, offsets, run, send, shadow, validate
from onex_host.cli._common import EXIT_FAILED, EXIT_UNREACHABLE, EXIT_USAGE, CliError
from onex_host.core.errors import ContractError
from onex_host.core.scrubbing import scrub
from onex_host.infra.kafka_tools.errors import (
    BadToolInputError,
    BrokerUnreachableError,
    KafkaToolError,
    ToolRefusedError,
)

_SUBCOMMANDS = (run, send, validate, asyncapi, dlq, shadow, offsets)

_TOOL_EXIT_CODES: tuple[tuple[type[KafkaToolError], int], ...] = (
    (BadToolInputError, EXIT_USAGE),
    (BrokerUnreachableError, EXIT_UNREACHABLE),
    (ToolRefusedError, EXIT_FAILED),
)


def tool_exit_code(error: KafkaToolError) -> int:
    """The exit code of a Kafka tool's error, by its kind; a kind not listed is a failed operation."""
    for kind, code in _TOOL_EXIT_CODES:
        if isinstance(error, kind):
            return code
    return EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onex-host", description="ONEX Runtime Host")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except ContractError as exc:
        for problem in exc.problems:
            print(f"error: {scrub(str(problem))}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KafkaToolError as exc:
        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        return tool_exit_code(exc)
    except KeyboardInterrupt:
        return 130
    return code


def entrypoint() -> None:
    sys.exit(main())
