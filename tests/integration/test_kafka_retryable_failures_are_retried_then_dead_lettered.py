"""Retryable failures are retried with backoff, then dead-lettered and still answered."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from uuid import UUID

import pytest

from onex_host.core.enums import EnumErrorCode
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.metrics import HostMetrics
from onex_host.runtime.node_runtime import NodeRuntime
from tests.support.builders.factories import command, echo_runtime
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, headers_of, reading, unique_prefix
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = pytest.mark.kafka


class CountingRuntime:
    """Counts runs per correlation id; ``flaky`` ones fail with a retryable code on their first runs."""

    def __init__(self, runtime: NodeRuntime, flaky_failures: int = 0) -> None:
        self.runtime = runtime
        self.runs: Counter[UUID] = Counter()
        self.finished_at: dict[UUID, float] = {}
        self.flaky: set[UUID] = set()
        self.flaky_failures = flaky_failures

    async def __call__(self, envelope: ModelOnexEnvelope) -> ModelOnexEnvelope:
        self.runs[envelope.correlation_id] += 1
        if envelope.correlation_id in self.flaky and self.runs[envelope.correlation_id] <= self.flaky_failures:
            return envelope.reply_error(EnumErrorCode.UPSTREAM_UNAVAILABLE, "not yet")
        reply = await self.runtime.route_envelope(envelope)
        self.finished_at[envelope.correlation_id] = time.monotonic()
        return reply


async def test_retryable_failures_are_retried_then_dead_lettered_and_answered(kafka_service: KafkaEndpoint) -> None:
    bootstrap = kafka_service.bootstrap
    config = bus_config(
        bootstrap,
        unique_prefix("retry"),
        retry={"max_attempts": 3, "initial_backoff_seconds": 0.3, "max_backoff_seconds": 0.6},
    )
    await bus_topics(config, partitions=1)
    runtime = await echo_runtime("echo")
    counting = CountingRuntime(runtime, flaky_failures=2)
    metrics = HostMetrics()
    metrics.declare({"echo": frozenset({"echo", "sleep", "fail"})})  # as the process declares its contracts
    bus = KafkaEventBus(config, max_concurrent=8, metrics=metrics)
    await bus.start(counting)

    always_down = command(operation="fail", payload={"code": "upstream_unavailable", "message": "db down"})
    bad_request = command(operation="fail", payload={"code": "upstream_error", "message": "400 from upstream"})
    flaky = command(payload={"flaky": True})
    counting.flaky.add(flaky.correlation_id)
    bystander = command(payload={"other": "key"})
    try:
        async with (
            reading(bootstrap, config.reply_topic) as replies,
            reading(bootstrap, config.effective_dead_letter_topic) as dead_letters,
            CommandProducer(bootstrap, config.command_topic) as producer,
        ):
            sent_at = time.monotonic()
            await producer.send(always_down, key=b"a")
            await producer.send(bystander, key=b"b")  # same partition, other key: must not wait for a's retries
            await producer.send(bad_request, key=b"c")
            await producer.send(flaky, key=b"d")
            wanted = {r.correlation_id for r in (always_down, bad_request, flaky, bystander)}
            await replies.wait_for_correlations(wanted, timeout=30)
            await dead_letters.wait_for(1, timeout=10)
            await asyncio.sleep(0.3)  # nothing else may arrive

        by_correlation = {e.correlation_id: e for e in replies.envelopes()}
        assert counting.runs[always_down.correlation_id] == 3
        assert by_correlation[always_down.correlation_id].error_code == "upstream_unavailable"
        assert counting.runs[bad_request.correlation_id] == 1  # not retryable: answered at once
        assert by_correlation[bad_request.correlation_id].error_code == "upstream_error"
        assert counting.runs[flaky.correlation_id] == 3
        assert by_correlation[flaky.correlation_id].success is True
        # backoff 0.3 + 0.6 holds key "a" for ~0.9 s; the bystander on key "b" was answered long before
        assert counting.finished_at[bystander.correlation_id] - sent_at < 0.5
        assert counting.finished_at[always_down.correlation_id] - sent_at >= 0.9

        assert len(dead_letters.records) == 1
        letter = dead_letters.records[0]
        headers = headers_of(letter)
        assert headers["onex.dlq.reason"] == "handler_failed"
        assert headers["onex.dlq.attempts"] == "3"
        assert headers["onex.dlq.error_code"] == "upstream_unavailable"
        assert letter.value == always_down.to_wire()
        assert len(replies.records) == 4  # one reply each, the dead-lettered one included

        rendered = metrics.render().decode()
        assert 'onex_retries_total{mode="primary",node="echo",operation="fail"} 2.0' in rendered
        assert 'onex_retries_total{mode="primary",node="echo",operation="echo"} 2.0' in rendered
        assert 'onex_dead_letters_total{mode="primary",reason="handler_failed"} 1.0' in rendered
    finally:
        await bus.stop(timeout_seconds=10)
        await runtime.shutdown()
