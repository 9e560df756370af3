"""The Kafka echo bench counts what a ``read_committed`` reader sees, on a topic an exactly-once host writes.

A transactional producer leaves commit markers (and aborted records) in the
log, so end offsets over-count replies and the record before the end offset
may be a marker. The bench once summed end offsets and read the record at
``end - 1``; on such a topic that counted markers as replies and failed to
find the last reply's timestamp.
"""

from __future__ import annotations

import time

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from bench.workloads.kafka_echo import PARTITIONS, ReplyTally, committed_reader, drain

from tests.support.builders.kafka_bus import create_topics, unique_prefix
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = [pytest.mark.kafka]


async def test_markers_and_aborted_records_are_not_counted_as_replies(kafka_service: KafkaEndpoint) -> None:
    topic = f"{unique_prefix('bench-tally')}.evt"
    await create_topics(
        kafka_service.bootstrap, [topic], PARTITIONS, {topic: {"message.timestamp.type": "LogAppendTime"}}
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_service.bootstrap, transactional_id=f"{topic}.txn")
    await producer.start()
    try:
        for committed, count in ((True, 5), (False, 4), (True, 3)):
            await producer.begin_transaction()
            for i in range(count):
                await (await producer.send(topic, b"reply", key=f"{committed}-{i}".encode()))
            if committed:
                await producer.commit_transaction()
            else:
                await producer.abort_transaction()
    finally:
        await producer.stop()

    reader = committed_reader(kafka_service.bootstrap)
    await reader.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = await reader.end_offsets(partitions)
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        tally = ReplyTally()
        await drain(reader, topic, tally, deadline=time.monotonic() + 60)
    finally:
        await reader.stop()

    assert sum(ends.values()) > 8, "the log holds markers and aborted records beside the 8 committed replies"
    assert tally.count == 8
    assert tally.first_ms is not None
    assert tally.last_ms is not None
    assert tally.first_ms <= tally.last_ms
