"""``onex-host offsets handover`` refuses when copying offsets could lose or replay work."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer

from tests.support.builders.factories import command
from tests.support.builders.kafka_bus import CommandProducer, create_topics, unique_prefix
from tests.support.builders.onex_cli import onex_host
from tests.support.doubles.legacy_node import LegacyNode
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = pytest.mark.kafka


async def test_handover_refuses_active_groups_and_a_source_without_offsets(kafka_service: KafkaEndpoint) -> None:
    bootstrap = kafka_service.bootstrap
    prefix = unique_prefix("handover")
    topic, replies = f"{prefix}.cmd", f"{prefix}.evt"
    await create_topics(bootstrap, [topic, replies])
    base = ["offsets", "handover", "--bootstrap-servers", bootstrap, "--topic", topic]

    never = await onex_host(*base, "--from-group", f"{prefix}.nobody", "--to-group", f"{prefix}.new")
    assert never.exit_code == 1
    assert f"group '{prefix}.nobody' has no committed offsets for topic '{topic}'" in never.stderr

    legacy = LegacyNode(bootstrap, group=f"{prefix}.legacy", command_topic=topic, response_topic=replies)
    await legacy.start()
    await legacy.wait_assigned()
    async with CommandProducer(bootstrap, topic) as producer:
        await producer.send_many([command(payload={"i": i}) for i in range(30)])
    async with asyncio.timeout(20):
        while legacy.answered < 30:
            await asyncio.sleep(0.05)
    busy_source = await onex_host(*base, "--from-group", legacy.group, "--to-group", f"{prefix}.new")
    assert busy_source.exit_code == 1
    assert f"group '{legacy.group}' has 1 active member(s)" in busy_source.stderr
    await legacy.stop()

    squatter = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"{prefix}.new")
    await squatter.start()
    try:
        async with asyncio.timeout(20):
            while not squatter.assignment():
                await squatter.getmany(timeout_ms=100)
        busy_target = await onex_host(*base, "--from-group", legacy.group, "--to-group", f"{prefix}.new")
        assert busy_target.exit_code == 1
        assert f"group '{prefix}.new' has 1 active member(s)" in busy_target.stderr
        assert "stop the new hosts" in busy_target.stderr
    finally:
        await squatter.stop()

    planned = await onex_host(*base, "--from-group", legacy.group, "--to-group", f"{prefix}.new", "--dry-run",
                              "--format", "json")  # fmt: skip
    assert planned.exit_code == 0, planned.stderr
    plan = planned.json()
    assert plan["committed"] is False
    assert sum(p["offset"] for p in plan["partitions"]) == 30
    assert sum(p["unconsumed"] for p in plan["partitions"]) == 0

    done = await onex_host(*base, "--from-group", legacy.group, "--to-group", f"{prefix}.new")
    assert done.exit_code == 0, done.stderr
    # a consumer of the new group starts exactly where the legacy group stopped: nothing to replay
    successor = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"{prefix}.new",
                                 auto_offset_reset="earliest", enable_auto_commit=False)  # fmt: skip
    await successor.start()
    try:
        async with asyncio.timeout(20):
            while not successor.assignment():
                assert await successor.getmany(timeout_ms=100) == {}
        assert await successor.getmany(timeout_ms=1000) == {}
        positions = {tp.partition: await successor.position(tp) for tp in successor.assignment()}
    finally:
        await successor.stop()
    assert sum(positions.values()) == 30
