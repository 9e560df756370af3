"""``onex-host offsets handover``: move a topic's consumption from one consumer group to another.

Exit codes: 0 handed over (or planned, with ``--dry-run``); 1 refused (the
groups are not in a safe state; the message says what to do); 2 bad
arguments; 3 brokers unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from onex_host.cli._common import EXIT_OK
from onex_host.cli._kafka_options import (
    add_connection_arguments,
    client_settings,
    load_bus_config,
    option_or_contract,
    quiet_kafka_client,
)
from onex_host.infra.kafka_tools.handover import HandoverPlan, apply_handover, plan_handover


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="offsets_command", required=True, metavar="ACTION")
    handover = actions.add_parser(
        "handover",
        help="copy --from-group's committed offsets of --topic to --to-group",
        description="Copy the committed offsets of --from-group on --topic to --to-group, so hosts in --to-group "
        "start exactly where the legacy consumers stopped. Both groups must be idle (no active members). "
        "Exit 1 when refused, with the reason.",
    )
    add_connection_arguments(handover)
    handover.add_argument("--from-group", required=True, metavar="GROUP", help="the legacy consumers' group")
    handover.add_argument(
        "--to-group", metavar="GROUP", help="the new primary hosts' group (default: the --contract's consumer_group)"
    )
    handover.add_argument("--topic", metavar="TOPIC", help="command topic (default: the --contract's command_topic)")
    handover.add_argument("--dry-run", action="store_true", help="print the plan and commit nothing")
    handover.add_argument(
        "--allow-active-source",
        action="store_true",
        help="hand over although --from-group still has members (what they process afterwards is replayed)",
    )
    handover.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    handover.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    quiet_kafka_client(args)
    bus = load_bus_config(args)
    settings = client_settings(args, bus)
    topic = option_or_contract("--topic", args.topic, bus, lambda b: b.command_topic)
    to_group = option_or_contract("--to-group", args.to_group, bus, lambda b: b.consumer_group)
    plan = asyncio.run(_handover(settings, topic, args.from_group, to_group, args))
    verdict = "dry run: nothing committed" if args.dry_run else "committed and read back"
    if args.format == "json":
        print(json.dumps({**plan.as_json(), "dry_run": args.dry_run, "committed": not args.dry_run}, indent=2))
    else:
        print(f"{plan.render()}\n{verdict}")
    sys.stdout.flush()
    return EXIT_OK


async def _handover(
    settings: dict[str, object], topic: str, from_group: str, to_group: str, args: argparse.Namespace
) -> HandoverPlan:
    plan = await plan_handover(settings, topic, from_group, to_group, allow_active_source=args.allow_active_source)
    if not args.dry_run:
        await apply_handover(settings, plan)
    return plan
