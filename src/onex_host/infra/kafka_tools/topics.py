"""Partitions of existing topics, for the tools that read or hand over whole topics.

A consumer's ``partitions_for_topic`` only knows topics it already tracks
(``topics()`` fetches metadata into a throwaway cluster view), so the tools
ask the admin client. Topics are looked up among the listed ones first: a
metadata request naming a missing topic may auto-create it on brokers with
``auto.create.topics.enable``, and a typo must be reported, not created.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from onex_host.infra.kafka_tools.errors import UnknownTopicError


async def topic_partitions(
    admin: AIOKafkaAdminClient, topics: Sequence[str], *, role: str = "topic"
) -> list[TopicPartition]:
    """Every partition of ``topics``, in order; raises ``UnknownTopicError`` for the first missing one.

    ``role`` names what the topic is to the operator in that error ("dead-letter topic").
    """
    existing = set(await admin.list_topics())
    for topic in topics:
        if topic not in existing:
            raise UnknownTopicError(topic, role=role)
    described = {entry["topic"]: entry for entry in await admin.describe_topics(list(topics))}
    return [
        TopicPartition(topic, number)
        for topic in topics
        for number in sorted(p["partition"] for p in described[topic]["partitions"])
    ]
