"""``onex-host``: run, feed and check a Runtime Host.

Exit codes: 0 success; 1 the operation failed (an error reply, a host that
would not start); 2 bad input (contract, arguments); 3 a host or broker that
cannot be reached. User errors print one ``error: ...`` line each, never a
traceback. The Kafka tools' errors (``KafkaToolError``) get their exit code
here and nowhere else, by kind: bad input 2, brokers unreachable 3, refused 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from onex_host.cli import asyncapi, dlq, offsets, promote, run, send, shadow, validate
from onex_host.cli._common import EXIT_FAILED, EXIT_UNREACHABLE, EXIT_USAGE, CliError
from onex_host.core.errors import ContractError
from onex_host.core.scrubbing import scrub
from onex_host.infra.kafka_tools.errors import (
    BadToolInputError,
    BrokerUnreachableError,
    KafkaToolError,
    ToolRefusedError,
)


@dataclass(frozen=True)
class Command:
    """One subcommand: its module (``configure(parser)`` adds its options and ``func``), name and texts."""

    module: ModuleType
    name: str
    help: str
    description: str | None


_COMMANDS: tuple[Command, ...] = (
    Command(
        run,
        "run",
        "start a runtime host",
        "Start a runtime host. With no CONTRACT: $ONEX_CONTRACT, else the bundled dev contract "
        "(in-memory bus, local echo handler, nothing external needed).",
    ),
    Command(
        send,
        "send",
        "post one envelope to a running host and print the reply",
        "Build an envelope from the options (or read one with --envelope) and POST it to "
        "/v1/envelopes. Exit 0 on a successful reply, 1 on an error reply, 3 if the host is unreachable.",
    ),
    Command(
        validate,
        "validate",
        "check a runtime host contract and every node contract it names",
        "Exit 0 when the contract would start; otherwise print one 'error: FILE: FIELD: problem' "
        "line per problem and exit 2.",
    ),
    Command(
        asyncapi,
        "asyncapi",
        "write the AsyncAPI 3.0 document of a runtime host contract",
        asyncapi.DESCRIPTION,
    ),
    Command(
        dlq,
        "dlq",
        "dead-letter topic tools: redrive",
        None,
    ),
    Command(
        shadow,
        "shadow-diff",
        "compare legacy and shadow replies: match rate, field diffs, missing replies",
        "Read the legacy and the shadow response topics, pair replies by correlation id within "
        "--window seconds and compare them field by field. Exit 1 below --min-match.",
    ),
    Command(
        offsets,
        "offsets",
        "consumer group offsets: hand over from legacy to a new group",
        None,
    ),
    Command(
        promote,
        "promote",
        "make a standby host consume (optionally handing over a legacy group's offsets first)",
        promote.DESCRIPTION,
    ),
)

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
    for command in _COMMANDS:
        command.module.configure(
            subparsers.add_parser(command.name, help=command.help, description=command.description)
        )
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
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``onex-host send ... | head``): not an error of ours. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again (Python's documented recipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141  # 128 + SIGPIPE, what a shell reports for a killed writer
    sys.exit(code)
