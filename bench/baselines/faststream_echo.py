"""The echo service a FastStream user would write, under the onex bus's delivery rule (at-least-once).

The onex bus commits an offset only after the reply to it is acknowledged.
In FastStream that is ``ack_policy=AckPolicy.ACK``: the offset is committed
after the handler (and the reply it publishes) finished. Two ways to write
it, both with the producer set up like every other service's (``acks=all``,
idempotent, the same 256 KiB batches as the onex bus and the raw loop) and
FastStream's own ``linger_ms`` default of 0:

- ``--batch`` (its throughput configuration, the ``faststream`` service):
  a batch subscriber (``batch=True, max_records=N``) gets up to N records
  from one ``getmany``; the handler publishes every reply with
  ``no_confirm=True`` (the send is queued, the acknowledgement future
  returned) and gathers the acknowledgements before it returns, so the
  batch's offsets are committed (one ``consumer.commit()`` per batch) only
  after all its replies are acknowledged. Up to N replies in flight; N
  defaults to 1,000, the fastest of 64, 256, 1,000 and unbounded measured
  side by side on this machine (64, the onex host's in-flight bound, ran
  at about half the rate of the others).
- default (the ``faststream_per_message`` service): one message per
  handler call, ``max_workers=6`` (one consumer per partition of the
  command topic in one group, FastStream's "concurrent between partitions"
  manual-commit mode), the reply returned through ``@publisher`` and
  awaited before the per-message commit. Six replies in flight at most:
  the mode a user gets from the tutorial, not the fast one.

FastStream decodes and validates the body with its dependency injection
(``list[dict[str, Any]]`` or ``dict[str, Any]``), as a typed handler does.
Per-message log lines are emitted at DEBUG (``log_level``) and so filtered,
as the onex host does not log per envelope either.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker, KafkaMessage, KafkaResponse

from bench.baselines._echo import argument_parser, echo_reply

WORKERS = 6  # the command topic's partition count
BATCH_BYTES = 262_144  # the onex bus's producer_batch_bytes default, as the raw loop uses
DEFAULT_MAX_RECORDS = 1_000  # the fastest setting measured here (64: ~0.5x; 256, 1,000, unbounded: alike)


def _broker(args: argparse.Namespace) -> KafkaBroker:
    return KafkaBroker(
        args.bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=0,
        max_batch_size=BATCH_BYTES,
        log_level=logging.DEBUG,
    )


def build_batch_app(args: argparse.Namespace) -> FastStream:
    broker = _broker(args)
    publisher = broker.publisher(args.response_topic)

    @broker.subscriber(
        args.command_topic,
        group_id=args.group,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        ack_policy=AckPolicy.ACK,
        batch=True,
        max_records=args.max_records,
    )
    async def echo(bodies: list[dict[str, Any]], message: KafkaMessage) -> None:
        records = message.raw_message
        assert isinstance(records, tuple)  # a batch subscriber gets the batch's records
        pending = [
            await publisher.publish(echo_reply(body), key=record.key, no_confirm=True)
            for body, record in zip(bodies, records, strict=True)
        ]
        await asyncio.gather(*pending)  # every reply acknowledged before the batch is committed

    return FastStream(broker)


def build_per_message_app(args: argparse.Namespace) -> FastStream:
    broker = _broker(args)
    subscriber = broker.subscriber(
        args.command_topic,
        group_id=args.group,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        ack_policy=AckPolicy.ACK,
        max_workers=WORKERS,
    )
    publisher = broker.publisher(args.response_topic)

    async def echo(body: dict[str, Any], message: KafkaMessage) -> KafkaResponse:
        record = message.raw_message
        assert not isinstance(record, tuple)  # a batch only reaches batch subscribers
        return KafkaResponse(echo_reply(body), key=record.key)

    subscriber(publisher(echo))
    return FastStream(broker)


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--batch", action="store_true", help="the batch subscriber (see above)")
    parser.add_argument(
        "--max-records",
        type=int,
        default=DEFAULT_MAX_RECORDS,
        help=f"records per batch with --batch (default {DEFAULT_MAX_RECORDS})",
    )
    args = parser.parse_args(argv)
    app = build_batch_app(args) if args.batch else build_per_message_app(args)
    asyncio.run(app.run(log_level=logging.WARNING))


if __name__ == "__main__":
    main()
