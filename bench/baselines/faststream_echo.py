"""The echo service a FastStream user would write, as close to the onex bus's delivery rule as FastStream allows.

The onex bus is at-least-once: offsets are committed only after the reply is
acknowledged, in the background every second, with up to
``max_concurrent_operations`` envelopes in flight. FastStream's nearest
setting is ``ack_policy=AckPolicy.ACK`` (commit after the handler and its
reply publication finish) with ``max_workers=6``, one consumer per partition
of the command topic in one group (FastStream's "concurrent between
partitions" mode). Differences that remain, all imposed by FastStream:

- it commits after every message (``consumer.commit()`` per message), not
  every second;
- a consumer handles one message at a time, so concurrency is one message per
  partition, not up to the host's bound;
- the reply is published by FastStream's ``@publisher`` after the handler
  returns; publication is awaited before the commit, as in the onex bus.

``--ack-first`` runs FastStream's default instead (``AckPolicy.ACK_FIRST``:
aiokafka auto-commit of fetched offsets every 5 s, one consumer, six worker
tasks), which can lose commands on a crash: reported as an extra key only.

Per-message log lines are emitted at DEBUG (``log_level``) and so filtered,
as the onex host does not log per envelope either. The producer is set up
like the onex bus's (``acks=all``, idempotent, 2 ms linger).
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


def build_app(args: argparse.Namespace, ack_first: bool) -> FastStream:
    broker = KafkaBroker(args.bootstrap, acks="all", enable_idempotence=True, linger_ms=2, log_level=logging.DEBUG)
    subscriber = broker.subscriber(
        args.command_topic,
        group_id=args.group,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        ack_policy=AckPolicy.ACK_FIRST if ack_first else AckPolicy.ACK,
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
    parser.add_argument("--ack-first", action="store_true", help="FastStream's default ack policy (see above)")
    args = parser.parse_args(argv)
    asyncio.run(build_app(args, args.ack_first).run(log_level=logging.WARNING))


if __name__ == "__main__":
    main()
