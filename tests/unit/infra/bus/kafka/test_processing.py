"""One record's way through codec -> callback -> outcome -> sender, with a scripted producer instead of a broker."""

from __future__ import annotations

import asyncio
from typing import Any

from onex_host.core.enums import EnumErrorCode
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.kafka.codec import InboundRecord
from onex_host.infra.bus.kafka.dispatcher import Ownership
from onex_host.infra.bus.kafka.processing import CommandProcessor
from onex_host.infra.bus.kafka.sender import KafkaSender
from onex_host.infra.metrics import HostMetrics
from tests.support.builders.factories import command
from tests.support.builders.kafka_bus import bus_config
from tests.support.doubles.kafka_doubles import Producers, failing

PREFIX = "t.proc"


def processor(producers: Producers, **overrides: Any) -> tuple[CommandProcessor, HostMetrics]:
    settings: dict[str, Any] = {
        "retry": {"max_attempts": 3, "initial_backoff_seconds": 0.01, "max_backoff_seconds": 0.02},
        **overrides,
    }
    config = bus_config("127.0.0.1:1", PREFIX, **settings)
    metrics = HostMetrics(mode=config.mode)
    return CommandProcessor(config, KafkaSender(config, build_producer=producers), metrics), metrics


def record(value: bytes | None, offset: int = 0) -> InboundRecord:
    return InboundRecord(topic=f"{PREFIX}.cmd", partition=0, offset=offset, key=b"k", value=value)


def by_topic(producers: Producers) -> dict[str, list[tuple[bytes | None, dict[str, bytes]]]]:
    topics: dict[str, list[tuple[bytes | None, dict[str, bytes]]]] = {}
    for topic, _key, value, headers in producers.delivered:
        topics.setdefault(topic, []).append((value, dict(headers)))
    return topics


async def test_a_callback_that_raises_is_answered_through_core_replies_retried_then_dead_lettered() -> None:
    producers = Producers(failing())
    proc, metrics = processor(producers)
    runs = 0

    async def raising(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        nonlocal runs
        runs += 1
        raise RuntimeError("secret dsn postgres://u:p@db")

    proc.on_envelope = raising
    request = command()
    assert await proc.process(record(request.to_wire()), Ownership()) is True
    assert runs == 3  # internal_error is retryable
    sent = by_topic(producers)
    [(letter, headers)] = sent[f"{PREFIX}.cmd.dlq"]
    assert letter == request.to_wire()
    assert (headers["onex.dlq.reason"], headers["onex.dlq.attempts"]) == (b"handler_failed", b"3")
    [(wire, _)] = sent[f"{PREFIX}.evt"]
    assert wire is not None
    reply = ModelOnexEnvelope.from_wire(wire)
    assert (reply.success, reply.error_code, reply.correlation_id) == (False, "internal_error", request.correlation_id)
    assert reply.error is not None
    assert "the host's envelope callback failed unexpectedly (RuntimeError)" in reply.error
    assert "postgres://" not in reply.error
    rendered = metrics.render().decode()
    assert 'onex_retries_total{mode="primary",node="echo",operation="echo"} 2.0' in rendered
    assert 'onex_dead_letters_total{mode="primary",reason="handler_failed"} 1.0' in rendered


async def test_an_undecodable_record_is_dead_lettered_and_nothing_else_is_sent() -> None:
    producers = Producers(failing())
    proc, _metrics = processor(producers)
    assert await proc.process(record(b"\x00 not json"), Ownership()) is True
    sent = by_topic(producers)
    assert list(sent) == [f"{PREFIX}.cmd.dlq"]
    assert sent[f"{PREFIX}.cmd.dlq"][0][1]["onex.dlq.reason"] == b"not_json"


async def test_a_shadow_processor_answers_on_the_shadow_topic_whatever_reply_to_says() -> None:
    producers = Producers(failing())
    proc, _metrics = processor(producers, mode="shadow")

    async def echo(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        return envelope.reply_success({"ok": True})

    proc.on_envelope = echo
    request = command(metadata={"reply_to": "caller.private"})
    assert await proc.process(record(request.to_wire()), Ownership()) is True
    assert list(by_topic(producers)) == [f"{PREFIX}.evt.shadow"]


async def test_a_revoke_during_a_retry_delay_abandons_the_record_unsent() -> None:
    producers = Producers(failing())
    proc, _metrics = processor(
        producers, retry={"max_attempts": 5, "initial_backoff_seconds": 30, "max_backoff_seconds": 30}
    )

    async def unavailable(envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        return envelope.reply_error(EnumErrorCode.UPSTREAM_UNAVAILABLE, "down")

    proc.on_envelope = unavailable
    ownership = Ownership()
    task = asyncio.create_task(proc.process(record(command().to_wire()), ownership))
    await asyncio.sleep(0.05)
    ownership.lose()
    async with asyncio.timeout(2):
        assert await task is False
    assert producers.delivered == []
