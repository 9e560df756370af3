"""The ceiling aiokafka allows: consume -> ``json.loads`` -> ``json.dumps`` -> produce, nothing else.

Same delivery rule as the onex Kafka bus (at-least-once): auto-commit is
off, and an offset is committed only after the replies of every record
before it were acknowledged by the broker. Commits happen every
``--commit-interval`` seconds (the bus default, 1 s), not per record. The
producer is configured like the bus's (``acks=all``, idempotent, 2 ms
linger, aiokafka's 16 KiB batches) and the consumer reads
``read_committed`` like the bus's. ``--max-batch-bytes`` raises the batch
size, to show what the library allows beyond the bus's settings.

Each fetched batch is turned into replies, the replies are sent together
and awaited, then the next batch is fetched: the plain loop a user writes,
with the producer batching a whole fetch into few requests.

Usage: ``python -m bench.baselines.raw_aiokafka_echo --bootstrap H:P
--command-topic C --response-topic R --group G``; stops on SIGTERM after a
final commit.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.baselines._echo import argument_parser, echo_reply

DEFAULT_BATCH_BYTES = 262_144  # the onex bus's producer_batch_bytes default: equal settings on both sides


async def serve(
    bootstrap: str,
    command_topic: str,
    response_topic: str,
    group: str,
    commit_interval: float,
    max_batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> None:
    consumer = AIOKafkaConsumer(
        command_topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2, max_batch_size=max_batch_bytes
    )
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await producer.start()
    await consumer.start()
    done: dict[TopicPartition, int] = {}
    last_commit = time.monotonic()
    try:
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            sent = []
            for tp, records in batches.items():
                for record in records:
                    reply = json.dumps(echo_reply(json.loads(record.value))).encode()
                    sent.append(await producer.send(response_topic, reply, key=record.key))
                done[tp] = records[-1].offset + 1
            await asyncio.gather(*sent)  # every reply acknowledged before its offset may be committed
            if done and time.monotonic() - last_commit >= commit_interval:
                await consumer.commit(dict(done))
                done.clear()
                last_commit = time.monotonic()
        if done:
            await consumer.commit(dict(done))
    finally:
        await consumer.stop()
        await producer.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--max-batch-bytes",
        type=int,
        default=DEFAULT_BATCH_BYTES,
        help="producer batch size per partition (default: the onex bus's producer_batch_bytes)",
    )
    args = parser.parse_args(argv)
    asyncio.run(
        serve(
            args.bootstrap,
            args.command_topic,
            args.response_topic,
            args.group,
            args.commit_interval,
            args.max_batch_bytes,
        )
    )


if __name__ == "__main__":
    main()
