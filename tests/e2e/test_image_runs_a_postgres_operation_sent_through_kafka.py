"""One envelope through Kafka to a PostgreSQL operation of the image, on the schema the stack migrated itself.

The command goes to the contract's command topic on the broker the host
consumes, the reply comes back on its response topic: the path production
traffic takes, not the HTTP envelope API. The postgres_adapter node's table
exists only if the stack's `migrate` step ran migrations/postgres, so a stack
that skips it fails here. Needs ONEX_E2E_KAFKA_BOOTSTRAP (a listener of the
stack's broker reachable from the test); without it the test is skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

KAFKA_BOOTSTRAP = os.environ.get("ONEX_E2E_KAFKA_BOOTSTRAP", "")
COMMAND_TOPIC = "onex.cmd.runtime.infra.v1"
RESPONSE_TOPIC = "onex.evt.runtime.infra.v1"
DEAD_LETTER_TOPIC = f"{COMMAND_TOPIC}.dlq"
REPLY_WITHIN_SECONDS = 90.0

pytestmark = pytest.mark.skipif(not KAFKA_BOOTSTRAP, reason="ONEX_E2E_KAFKA_BOOTSTRAP is not set")


def _command(operation: str, args: list[Any]) -> dict[str, Any]:
    return {
        "envelope_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
        "source_node": "e2e",
        "target_node": "postgres_adapter",
        "handler_type": "db",
        "operation": operation,
        "payload": {"args": args},
    }


async def _send_and_await_replies(commands: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Publish the commands, then collect one reply per correlation id (bounded wait).

    A command the host dead-letters instead (a handler that keeps failing, for
    one: a table the schema migration never created) fails the test at once
    with the host's reason.
    """
    consumer = AIOKafkaConsumer(
        RESPONSE_TOPIC,
        DEAD_LETTER_TOPIC,
        bootstrap_servers=KAFKA_BOOTSTRAP,
        group_id=f"e2e-{uuid.uuid4().hex}",
        # From the start: the dead-letter topic may appear only once this run's command lands there.
        auto_offset_reset="earliest",
        metadata_max_age_ms=2000,
    )
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, acks="all")
    async with asyncio.timeout(REPLY_WITHIN_SECONDS):
        await consumer.start()
        await producer.start()
        try:
            for command in commands:
                key = command["correlation_id"].encode()
                await producer.send_and_wait(COMMAND_TOPIC, json.dumps(command).encode(), key=key)
            wanted = {command["correlation_id"] for command in commands}
            replies: dict[str, dict[str, Any]] = {}
            async for record in consumer:
                reply = json.loads(record.value)
                if record.topic == DEAD_LETTER_TOPIC and reply.get("correlation_id") in wanted:
                    headers = {name: value.decode(errors="replace") for name, value in record.headers}
                    pytest.fail(f"the host dead-lettered {reply['operation']}: {headers}", pytrace=False)
                if reply.get("correlation_id") in wanted:
                    replies[reply["correlation_id"]] = reply
                if wanted <= replies.keys():
                    return replies
        finally:
            await producer.stop()
            await consumer.stop()
    raise AssertionError("unreachable")


async def test_an_envelope_through_kafka_runs_a_postgres_operation_on_the_migrated_schema() -> None:
    slug = f"e2e-{uuid.uuid4().hex[:12]}"
    upsert = _command("upsert_registration", [slug, "effect", "1.0.0", f"http://{slug}"])
    replies = await _send_and_await_replies([upsert])
    reply = replies[upsert["correlation_id"]]
    assert reply["success"] is True, f"{reply.get('error_code')}: {reply.get('error')}"
    assert reply["causation_id"] == upsert["envelope_id"]
    assert reply["payload"]["row_count"] == 1, reply

    fetch = _command("get_registration", [slug])
    fetched = (await _send_and_await_replies([fetch]))[fetch["correlation_id"]]
    assert fetched["success"] is True, f"{fetched.get('error_code')}: {fetched.get('error')}"
    assert [(row["slug"], row["node_kind"]) for row in fetched["payload"]["rows"]] == [(slug, "effect")]
