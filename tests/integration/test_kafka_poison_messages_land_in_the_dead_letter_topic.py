"""Malformed and unroutable commands are dead-lettered with their reason and never stall their partition."""

from __future__ import annotations

import json
import uuid

import pytest

from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.metrics import HostMetrics
from tests.support.builders.factories import command, echo_runtime
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, headers_of, reading, unique_prefix
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = pytest.mark.kafka

KEY = b"one-lane"  # every message on one key: a stall would block everything after it


async def test_each_poison_message_is_dead_lettered_with_its_reason_and_later_commands_are_answered(
    kafka_service: KafkaEndpoint,
) -> None:
    bootstrap = kafka_service.bootstrap
    config = bus_config(bootstrap, unique_prefix("poison"), max_message_bytes=4096)
    await bus_topics(config, partitions=1)
    runtime = await echo_runtime("echo")
    metrics = HostMetrics()
    bus = KafkaEventBus(config, max_concurrent=4, metrics=metrics)
    await bus.start(runtime.route_envelope)

    unknown_target = command(target="nobody")
    oversized = command(payload={"blob": "x" * 8192})
    invalid_but_addressed = {
        "correlation_id": str(uuid.uuid4()),
        "handler_type": "local",
        "source_node": "caller",
        "operation": "echo",
        "payload": "not a mapping",
    }
    poison: list[tuple[bytes, str]] = [
        (b"\x00\x01 definitely not json", "not_json"),
        (b'{"hello": "world"}', "not_an_envelope"),
        (json.dumps(invalid_but_addressed).encode(), "invalid_envelope"),
        (unknown_target.to_wire(), "unknown_node"),
        (oversized.to_wire(), "oversized"),
    ]
    after = [command(payload={"after": i}) for i in range(3)]
    try:
        async with (
            reading(bootstrap, config.reply_topic) as replies,
            reading(bootstrap, config.effective_dead_letter_topic) as dead_letters,
            CommandProducer(bootstrap, config.command_topic) as producer,
        ):
            for value, _reason in poison:
                await producer.send_raw(value, key=KEY)
            for request in after:
                await producer.send(request, key=KEY)
            await dead_letters.wait_for(len(poison), timeout=30)
            expected_replies = {
                unknown_target.correlation_id,
                oversized.correlation_id,
                uuid.UUID(invalid_but_addressed["correlation_id"]),
                *(r.correlation_id for r in after),
            }
            await replies.wait_for_correlations(expected_replies, timeout=30)

        letters = dead_letters.records
        assert [headers_of(r)["onex.dlq.reason"] for r in letters] == [reason for _, reason in poison]
        for record, (value, _reason) in zip(letters, poison, strict=True):
            headers = headers_of(record)
            assert record.value == value  # original bytes kept for redrive
            assert record.key == KEY
            assert headers["onex.dlq.origin_topic"] == config.command_topic
            assert headers["onex.dlq.origin_partition"] == "0"
            assert headers["onex.dlq.detail"]
        assert [int(headers_of(r)["onex.dlq.origin_offset"]) for r in letters] == list(range(len(poison)))

        by_correlation = {e.correlation_id: e for e in replies.envelopes()}
        assert by_correlation[unknown_target.correlation_id].error_code == "unknown_node"
        assert by_correlation[oversized.correlation_id].error_code == "invalid_envelope"
        assert "oversized" in (by_correlation[oversized.correlation_id].error or "")
        invalid_reply = by_correlation[uuid.UUID(invalid_but_addressed["correlation_id"])]
        assert invalid_reply.error_code == "invalid_envelope"
        assert invalid_reply.target_node == "caller"
        assert [by_correlation[r.correlation_id].payload for r in after] == [{"after": i} for i in range(3)]

        rendered = metrics.render().decode()
        for _value, reason in poison:
            assert f'onex_dead_letters_total{{mode="primary",reason="{reason}"}} 1.0' in rendered
    finally:
        await bus.stop(timeout_seconds=10)
        await runtime.shutdown()
