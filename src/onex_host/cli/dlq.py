"""``onex-host dlq redrive``: replay dead-lettered commands after the cause was fixed.

Exit codes: 0 the pass completed (the counts say what was redriven); 2 bad
arguments or an unknown dead-letter topic; 3 brokers unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from onex_host.cli._common import EXIT_OK, CliError
from onex_host.cli._kafka_options import (
    add_connection_arguments,
    client_settings,
    load_bus_config,
    option_or_contract,
    quiet_kafka_client,
    reported_against,
)
from onex_host.infra.bus.kafka.codec import DeadLetterReason
from onex_host.infra.kafka_tools.redrive import RedriveReport, redrive_dead_letters

_REASONS = ", ".join(reason.value for reason in DeadLetterReason)


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    redrive = actions.add_parser(
        "redrive",
        help="replay dead letters to the command topic they came from",
        description="Replay the dead letters of --from (up to its end when the pass starts) to the topic each "
        "came from, or to --to; optionally only those dead-lettered for --reason. Progress is remembered in "
        "--group, so the next pass starts where this one stopped.",
    )
    add_connection_arguments(redrive)
    redrive.add_argument(
        "--from",
        dest="from_topic",
        metavar="TOPIC",
        help="dead-letter topic (default: the --contract's dead_letter_topic)",
    )
    redrive.add_argument("--to", dest="to_topic", metavar="TOPIC", help="send every dead letter here instead")
    redrive.add_argument("--reason", metavar="REASON", help=f"only dead letters with this reason ({_REASONS})")
    redrive.add_argument(
        "--group", metavar="GROUP", help="consumer group that remembers redrive progress (default: <from>.redrive)"
    )
    redrive.add_argument("--dry-run", action="store_true", help="count what would be redriven; produce nothing")
    redrive.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    redrive.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    quiet_kafka_client(args)
    if args.reason is not None and args.reason not in {reason.value for reason in DeadLetterReason}:
        raise CliError(f"--reason: unknown reason {args.reason!r} (expected one of {_REASONS})")
    bus = load_bus_config(args)
    settings = client_settings(args, bus)
    from_topic = option_or_contract("--from", args.from_topic, bus, lambda b: b.effective_dead_letter_topic)
    if args.to_topic == from_topic:
        raise CliError("--to: must differ from --from (that would dead-letter loop)")
    with reported_against("--from"):
        report = asyncio.run(
            redrive_dead_letters(
                settings,
                from_topic,
                group=args.group or f"{from_topic}.redrive",
                to_topic=args.to_topic,
                reason=args.reason,
                dry_run=args.dry_run,
                progress=_print_progress,
            )
        )
    if args.format == "json":
        print(json.dumps(report.as_json(), indent=2))
    else:
        print(_render(report))
    return EXIT_OK


def _print_progress(report: RedriveReport) -> None:
    print(f"... scanned {report.scanned}, redriven {report.redriven_total}", file=sys.stderr, flush=True)


def _render(report: RedriveReport) -> str:
    verb = "would redrive" if report.dry_run else "redriven"
    lines = [f"{report.dead_letter_topic}: scanned {report.scanned}, {verb} {report.redriven_total}"]
    lines += [f"  -> {topic}: {count}" for topic, count in sorted(report.redriven.items())]
    if report.skipped_by_reason:
        skipped = ", ".join(f"{reason}={count}" for reason, count in sorted(report.skipped_by_reason.items()))
        lines.append(f"  skipped (other reasons): {skipped}")
    if report.not_dead_letters:
        lines.append(f"  skipped (no onex.dlq headers): {report.not_dead_letters}")
    if report.without_value:
        lines.append(f"  skipped (original bytes were too large to keep): {report.without_value}")
    return "\n".join(lines)
