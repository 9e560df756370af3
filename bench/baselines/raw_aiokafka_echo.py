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
with the producer batching a whole fetch into few requests. Nothing bounds
how many replies are in flight: a whole fetch (up to 1 MiB per partition,
hundreds to thousands of records) at a time.

``--max-in-flight N`` holds the loop to at most N unacknowledged replies,
the bound the onex host runs under (``max_concurrent_operations``): before
a reply is sent while N are in flight, the oldest is awaited. Replies are
awaited oldest first, so when one is acknowledged every reply before it is
too, and its record's offset (and all before it on its partition) may be
committed. Fetching goes on while replies are in flight, so the bound, not
the fetch size, sets the concurrency.

Usage: ``python -m bench.baselines.raw_aiokafka_echo --bootstrap H:P
--command-topic C --response-topic R --group G``; stops on SIGTERM after a
final commit.
"""

from __future__ import annotations

import asyncio
import collections
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
    max_in_flight: int | None = None,
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
    try:
        if max_in_flight is None:
            await _whole_fetches(consumer, producer, response_topic, commit_interval, stopping)
        else:
            await _bounded(consumer, producer, response_topic, commit_interval, stopping, max_in_flight)
    finally:
        await consumer.stop()
        await producer.stop()


def _reply(value: bytes) -> bytes:
    return json.dumps(echo_reply(json.loads(value))).encode()


async def _whole_fetches(
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    response_topic: str,
    commit_interval: float,
    stopping: asyncio.Event,
) -> None:
    done: dict[TopicPartition, int] = {}
    last_commit = time.monotonic()
    while not stopping.is_set():
        batches = await consumer.getmany(timeout_ms=500)
        sent = []
        for tp, records in batches.items():
            for record in records:
                sent.append(await producer.send(response_topic, _reply(record.value), key=record.key))
            done[tp] = records[-1].offset + 1
        await asyncio.gather(*sent)  # every reply acknowledged before its offset may be committed
        if done and time.monotonic() - last_commit >= commit_interval:
            await consumer.commit(dict(done))
            done.clear()
            last_commit = time.monotonic()
    if done:
        await consumer.commit(dict(done))


async def _bounded(
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    response_topic: str,
    commit_interval: float,
    stopping: asyncio.Event,
    max_in_flight: int,
) -> None:
    in_flight: collections.deque[tuple[TopicPartition, int, asyncio.Future[object]]] = collections.deque()
    done: dict[TopicPartition, int] = {}

    async def settle_oldest() -> None:
        tp, offset, future = in_flight.popleft()
        await future
        done[tp] = offset + 1

    last_commit = time.monotonic()
    while not stopping.is_set():
        batches = await consumer.getmany(timeout_ms=500)
        for tp, records in batches.items():
            for record in records:
                while len(in_flight) >= max_in_flight:
                    await settle_oldest()
                future = await producer.send(response_topic, _reply(record.value), key=record.key)
                in_flight.append((tp, record.offset, future))
        while in_flight and in_flight[0][2].done():
            await settle_oldest()
        if done and time.monotonic() - last_commit >= commit_interval:
            await consumer.commit(dict(done))
            done.clear()
            last_commit = time.monotonic()
    while in_flight:
        await settle_oldest()
    if done:
        await consumer.commit(dict(done))


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--max-batch-bytes",
        type=int,
        default=DEFAULT_BATCH_BYTES,
        help="producer batch size per partition (default: the onex bus's producer_batch_bytes)",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=None,
        help="at most this many unacknowledged replies (default: no bound, a whole fetch at a time)",
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
            args.max_in_flight,
        )
    )


if __name__ == "__main__":
    main()
