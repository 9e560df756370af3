"""``metadata.reply_to`` as an attack on a real broker: nothing is created, nothing freezes, all is dead-lettered.

Every abusive command shares one key with the honest commands after it, on a
one-partition topic: if any of them held its slot (the old endless produce
retry), the honest ones would never be answered. The broker auto-creates no
topic (as deployed), and the host must not create one either.
A topic the host's user may not write is covered by the secured-broker test
(``tests/integration/test_kafka_secured_broker_tls_sasl_acls.py``).
"""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.metrics import HostMetrics
from tests.support.builders.factories import command, echo_runtime
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, headers_of, reading, unique_prefix
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = pytest.mark.kafka

KEY = b"one-lane"


async def test_abusive_reply_to_is_dead_lettered_creates_no_topic_and_never_stalls_the_partition(
    kafka_service: KafkaEndpoint,
) -> None:
    bootstrap = kafka_service.bootstrap
    prefix = unique_prefix("replyto")
    config = bus_config(bootstrap, prefix, allowed_reply_topic_prefixes=[f"{prefix}.allowed."])
    await bus_topics(config, partitions=1)
    abusive = {
        "legal-unlisted": f"{prefix}.attacker-reads-this",
        "illegal-name": "bad topic/../!",
        "too-long": "x" * 300,
        "internal-topic": "__consumer_offsets",
        "allowed-but-missing": f"{prefix}.allowed.never-created",
    }
    abuse = {case: command(payload={"case": case}, metadata={"reply_to": topic}) for case, topic in abusive.items()}
    honest = [command(payload={"after": i}) for i in range(5)]
    runtime = await echo_runtime("echo")
    bus = KafkaEventBus(config, max_concurrent=4, metrics=HostMetrics())
    await bus.start(runtime.route_envelope)
    try:
        async with (
            reading(bootstrap, config.reply_topic) as replies,
            reading(bootstrap, config.effective_dead_letter_topic) as letters,
            CommandProducer(bootstrap, config.command_topic) as producer,
        ):
            for request in [*abuse.values(), *honest]:
                await producer.send(request, key=KEY)
            # Within seconds: the missing-topic case costs one metadata wait (request_timeout_ms = 5 s here).
            counts = await replies.wait_for_correlations(
                {r.correlation_id for r in [*abuse.values(), *honest]}, timeout=30
            )
            await letters.wait_for(len(abuse), timeout=10)
            reasons = {
                ModelOnexEnvelope.from_wire(r.value).payload["case"]: headers_of(r)["onex.dlq.reason"]
                for r in letters.records
            }
            answers = {e.correlation_id: e for e in replies.envelopes()}
    finally:
        await bus.stop(timeout_seconds=10)
        await runtime.shutdown()
    assert reasons == dict.fromkeys(abusive, "reply_refused")
    for request in abuse.values():
        assert answers[request.correlation_id].error_code == "forbidden"
    for request in honest:
        assert answers[request.correlation_id].success is True
    assert all(n == 1 for n in counts.values())
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = set(await admin.list_topics())
    finally:
        await admin.close()
    assert not {abusive["legal-unlisted"], abusive["allowed-but-missing"]} & topics
