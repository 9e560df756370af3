"""``onex-host shadow-diff``: compare the legacy and the shadow deployment's replies.

Exit codes: 0 compared (and, with ``--min-match``, at or above it); 1 below
``--min-match``, or nothing was compared while a gate was asked for (no
evidence is not a pass), so a promotion step can gate on the exit code;
2 bad arguments; 3 brokers unreachable or a topic missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

from onex_host.cli._common import EXIT_FAILED, EXIT_OK, CliError, number_in, port_number
from onex_host.cli._kafka_options import (
    add_connection_arguments,
    client_settings,
    load_bus_config,
    option_or_contract,
    quiet_kafka_client,
)
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.kafka_tools.shadow.comparator import ComparisonReport, ReplyComparator
from onex_host.infra.kafka_tools.shadow.ignore import IgnoreRules
from onex_host.infra.kafka_tools.shadow.metrics import ShadowMetrics
from onex_host.infra.kafka_tools.shadow.reader import ReadStart, ResponseTopicReader
from onex_host.infra.kafka_tools.shadow.report import ReportContext, render_json, render_table
from onex_host.infra.kafka_tools.shadow.session import ComparisonTick, StopWhen, run_comparison

DEFAULT_WINDOW_S = 10.0
DEFAULT_METRICS_PORT = 9464
METRICS_REFRESH_S = 1.0


def _positive(kind: type[int] | type[float]) -> Callable[[str], Any]:
    return number_in(kind, low=0, low_open=True)


_rate = number_in(float, low=0, high=1, out_of_range="a rate between 0 and 1 (0.999 is 99.9%%), not {text}")


def configure(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser)
    topics = parser.add_argument_group("what to compare")
    topics.add_argument(
        "--legacy-topic", metavar="TOPIC", help="legacy response topic (default: the --contract's response_topic)"
    )
    topics.add_argument(
        "--shadow-topic",
        metavar="TOPIC",
        help="shadow response topic (default: the --contract's, <response_topic>.shadow)",
    )
    topics.add_argument(
        "--window",
        type=_positive(float),
        default=DEFAULT_WINDOW_S,
        metavar="S",
        help=f"seconds a reply waits for its partner before it counts as missing (default: {DEFAULT_WINDOW_S:g})",
    )
    topics.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="FIELD",
        help="field to leave out, as a dotted path or glob (payload.generated_at, payload.rows.*.id); "
        "repeatable; envelope_id and timestamp are always ignored",
    )
    start = topics.add_mutually_exclusive_group()
    start.add_argument(
        "--from-beginning", action="store_true", help="read both topics from their beginning (default: from now)"
    )
    start.add_argument("--since", type=_positive(float), metavar="S", help="read from S seconds ago")
    run = parser.add_argument_group("how long, and the gate")
    run.add_argument(
        "--duration",
        type=_positive(float),
        metavar="S",
        help="stop after S seconds (without --duration, --max-replies or --follow, --since and --from-beginning "
        "stop once the topics are read up to where they ended at the start)",
    )
    run.add_argument("--max-replies", type=_positive(int), metavar="N", help="stop once N replies have been judged")
    run.add_argument(
        "--min-match", type=_rate, metavar="RATE", help="exit 1 when the match rate is below RATE (0.999 = 99.9%%)"
    )
    run.add_argument(
        "--follow",
        action="store_true",
        help="run until SIGTERM/SIGINT, exporting the match rate and counts as Prometheus metrics",
    )
    run.add_argument(
        "--metrics-port",
        type=port_number,
        metavar="PORT",
        default=DEFAULT_METRICS_PORT,
        help=f"--follow metrics port (default: {DEFAULT_METRICS_PORT})",
    )
    run.add_argument(
        "--metrics-bind", default="0.0.0.0", metavar="ADDRESS", help="--follow metrics address (default: 0.0.0.0)"
    )
    parser.add_argument(
        "--format",
        choices=["auto", "table", "json"],
        default="auto",
        help="auto: a table on a terminal, JSON otherwise",
    )
    parser.set_defaults(func=execute)


def _topics(args: argparse.Namespace, bus: KafkaBusConfig | None) -> tuple[str, str]:
    legacy = option_or_contract("--legacy-topic", args.legacy_topic, bus, lambda b: b.response_topic)
    shadow = option_or_contract(
        "--shadow-topic", args.shadow_topic, bus, lambda b: b.model_copy(update={"mode": "shadow"}).reply_topic
    )
    if legacy == shadow:
        raise CliError(f"--legacy-topic and --shadow-topic are both {legacy!r}; they must differ")
    return legacy, shadow


def execute(args: argparse.Namespace) -> int:
    catch_up = not args.follow and args.duration is None and args.max_replies is None
    if catch_up and not (args.from_beginning or args.since):
        raise CliError(
            "say how long to compare: --duration or --max-replies, --since or --from-beginning "
            "(compare what the topics already hold), or --follow (until stopped)"
        )
    try:
        ignore = IgnoreRules.from_patterns(args.ignore)
    except ValueError as exc:
        raise CliError(f"--ignore: {exc}") from None
    quiet_kafka_client(args)
    bus = load_bus_config(args)
    settings = client_settings(args, bus)
    legacy_topic, shadow_topic = _topics(args, bus)
    until = StopWhen(args.duration, args.max_replies, caught_up=catch_up)
    report = asyncio.run(_compare(args, settings, legacy_topic, shadow_topic, ignore, until))
    context = ReportContext(legacy_topic, shadow_topic, args.min_match)
    as_table = args.format == "table" or (args.format == "auto" and sys.stdout.isatty())
    print(render_table(report, context) if as_table else render_json(report, context))
    if args.min_match is not None and not report.passes(args.min_match):
        return EXIT_FAILED
    return EXIT_OK


async def _compare(
    args: argparse.Namespace,
    settings: dict[str, object],
    legacy_topic: str,
    shadow_topic: str,
    ignore: IgnoreRules,
    until: StopWhen,
) -> ComparisonReport:
    metrics = ShadowMetrics() if args.follow else None
    reader = ResponseTopicReader(settings, legacy_topic, shadow_topic)
    read_from = await reader.start(ReadStart(earliest=args.from_beginning, since_seconds=args.since))
    comparator = ReplyComparator(
        ignore,
        args.window,
        listener=metrics.record_outcome if metrics is not None else None,
        edge_until=None if read_from is None else read_from + args.window,
    )
    stop = asyncio.Event()
    try:
        with _stop_on_signals(stop), _serving(metrics, args) as on_tick:
            return await run_comparison(reader, comparator, until, stop=stop, on_tick=on_tick)
    finally:
        await reader.stop()


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM/SIGINT end the run with a report instead of a traceback."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


@contextlib.contextmanager
def _serving(metrics: ShadowMetrics | None, args: argparse.Namespace) -> Iterator[ComparisonTick | None]:
    if metrics is None:
        yield None
        return
    try:
        server = metrics.serve(args.metrics_port, args.metrics_bind)
    except OSError as exc:
        raise CliError(
            f"--metrics-port: cannot listen on {args.metrics_bind}:{args.metrics_port}: {exc.strerror}"
        ) from None
    print(f"shadow-diff: metrics on http://{args.metrics_bind}:{server.port}/metrics", file=sys.stderr)
    try:
        yield metrics.updater(every_seconds=METRICS_REFRESH_S)
    finally:
        server.close()
