"""``mode: shadow``: the same commands, its own consumer group, replies only on the shadow topic."""

from __future__ import annotations

import pytest

from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.metrics import HostMetrics
from tests.support.builders.factories import command, echo_runtime
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, reading, unique_prefix
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = pytest.mark.kafka


async def test_a_shadow_bus_sees_every_command_and_never_replies_where_the_primary_does(
    kafka_service: KafkaEndpoint,
) -> None:
    bootstrap = kafka_service.bootstrap
    prefix = unique_prefix("shadow")
    private = f"{prefix}.private"
    primary_config = bus_config(bootstrap, prefix, allowed_reply_topics=[private])
    shadow_config = bus_config(bootstrap, prefix, mode="shadow", allowed_reply_topics=[private])
    await bus_topics(primary_config, extra=[shadow_config.reply_topic, private])
    runtime = await echo_runtime("echo")
    shadow_runtime = await echo_runtime("echo", shadow=True)
    primary = KafkaEventBus(primary_config, max_concurrent=4, metrics=HostMetrics())
    shadow = KafkaEventBus(shadow_config, max_concurrent=4, metrics=HostMetrics(mode="shadow"))
    requests = [command(payload={"i": i}) for i in range(5)]
    with_reply_to = command(payload={"private": True}, metadata={"reply_to": private})
    try:
        await primary.start(runtime.route_envelope)
        await shadow.start(shadow_runtime.route_envelope)
        assert shadow.health().details["consumer_group"] == f"{primary_config.consumer_group}.shadow"
        async with (
            reading(bootstrap, primary_config.reply_topic) as primary_replies,
            reading(bootstrap, shadow_config.reply_topic) as shadow_replies,
            reading(bootstrap, private) as private_replies,
            CommandProducer(bootstrap, primary_config.command_topic) as producer,
        ):
            await producer.send_many([*requests, with_reply_to])
            everything = {r.correlation_id for r in [*requests, with_reply_to]}
            shadow_counts = await shadow_replies.wait_for_correlations(everything, timeout=30)
            await primary_replies.wait_for_correlations({r.correlation_id for r in requests}, timeout=30)
            await private_replies.wait_for(1, timeout=30)

        assert max(shadow_counts.values()) == 1
        assert set(primary_replies.correlation_counts()) == {r.correlation_id for r in requests}
        assert private_replies.correlation_counts() == {with_reply_to.correlation_id: 1}  # the primary's only
        assert shadow_config.reply_topic == f"{primary_config.response_topic}.shadow"
    finally:
        await primary.stop(timeout_seconds=10)
        await shadow.stop(timeout_seconds=10)
        await runtime.shutdown()
        await shadow_runtime.shutdown()
