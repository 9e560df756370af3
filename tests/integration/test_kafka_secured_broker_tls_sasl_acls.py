"""The host against a secured Apache Kafka: TLS + SASL (SCRAM-SHA-512, PLAIN) and ACLs (KRaft StandardAuthorizer).

The broker is a native one from ``tests.support.provisioning.native.kafka`` with a
SASL_SSL listener; its certificate is made at test time
(``tests.support.provisioning.kafka_secured``). The host's users may read the command
topic and write its reply and dead-letter topics, nothing else; the tests
themselves use the PLAINTEXT listener, whose ANONYMOUS principal is a super
user.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from onex_host.core.scrubbing import forget_secrets, register_secrets, scrub
from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.metrics import HostMetrics
from onex_host.infra.process import secret_values
from onex_host.runtime.node_runtime import NodeRuntime
from tests.support.builders.factories import command, echo_runtime
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, headers_of, reading, unique_prefix
from tests.support.provisioning.kafka_secured import HOST_USER, PLAIN_USER, credentials, make_broker_certificate
from tests.support.provisioning.native._process import ServiceStartError
from tests.support.provisioning.native.kafka import Acl, NativeKafka, SaslSslListener

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PREFIX = "t.secured"
FORBIDDEN_PREFIX = "forbidden."


@dataclass(frozen=True)
class SecuredBroker:
    broker: NativeKafka
    ca_file: Path
    passwords: dict[str, str]

    def config(
        self, prefix: str, user: str, mechanism: str, password: str | None = None, **extra: Any
    ) -> KafkaBusConfig:
        return bus_config(
            self.broker.secured_bootstrap,
            prefix,
            security_protocol="SASL_SSL",
            tls={"ca_file": str(self.ca_file)},
            sasl={"mechanism": mechanism, "username": user, "password": password or self.passwords[user]},
            **extra,
        )


@pytest.fixture(scope="module")
def secured_broker() -> Iterator[SecuredBroker]:
    directory = Path(tempfile.mkdtemp(prefix="onex-kafka-tls-"))
    try:
        certificate = make_broker_certificate(directory)
        passwords = credentials()
        listener = SaslSslListener(
            keystore=certificate.keystore,
            keystore_password=certificate.password,
            scram_users={HOST_USER: passwords[HOST_USER]},
            plain_users={PLAIN_USER: passwords[PLAIN_USER]},
        )
        broker = NativeKafka(secured=listener, heap="384m")
        broker.start()
    except ServiceStartError as exc:
        pytest.skip(f"no secured native Kafka broker: {exc}")
    try:
        acls = []
        for user in (HOST_USER, PLAIN_USER):
            principal = f"User:{user}"
            acls += [
                Acl(principal, "TOPIC", PREFIX, "ALL", "PREFIXED"),
                Acl(principal, "GROUP", PREFIX, "ALL", "PREFIXED"),
            ]
        broker.create_acls(acls)
        yield SecuredBroker(broker, certificate.ca_file, passwords)
    finally:
        broker.close()


@pytest.fixture
async def runtime() -> AsyncIterator[NodeRuntime]:
    runtime = await echo_runtime("echo")
    yield runtime
    await runtime.shutdown()


async def _ready(bus: KafkaEventBus, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not bus.health().ready:
            await asyncio.sleep(0.05)


@pytest.mark.parametrize(("user", "mechanism"), [(HOST_USER, "SCRAM-SHA-512"), (PLAIN_USER, "PLAIN")])
async def test_the_host_consumes_and_replies_over_tls_and_sasl(
    secured_broker: SecuredBroker, runtime: NodeRuntime, user: str, mechanism: str
) -> None:
    plain = secured_broker.broker.bootstrap
    config = secured_broker.config(unique_prefix("secured").replace("t.", f"{PREFIX}.", 1), user, mechanism)
    await bus_topics(config.model_copy(update={"bootstrap_servers": [plain]}), partitions=2)
    bus = KafkaEventBus(config, max_concurrent=4, metrics=HostMetrics())
    await bus.start(runtime.route_envelope)
    try:
        await _ready(bus)
        async with (
            reading(plain, config.reply_topic) as replies,
            CommandProducer(plain, config.command_topic) as producer,
        ):
            requests = [command(payload={"i": i}) for i in range(10)]
            await producer.send_many(requests)
            counts = await replies.wait_for_correlations({r.correlation_id for r in requests}, timeout=30)
        assert set(counts) == {r.correlation_id for r in requests}
        assert bus.config.effective_security_protocol == "SASL_SSL"
    finally:
        await bus.stop(timeout_seconds=10)


async def test_a_reply_topic_the_hosts_user_may_not_write_is_dead_lettered_not_retried(
    secured_broker: SecuredBroker, runtime: NodeRuntime
) -> None:
    plain = secured_broker.broker.bootstrap
    prefix = unique_prefix("acl").replace("t.", f"{PREFIX}.", 1)
    forbidden = f"{FORBIDDEN_PREFIX}{prefix}"
    # The contract allows the topic; the broker's ACLs do not: a deployment mistake must not freeze a partition.
    config = secured_broker.config(prefix, HOST_USER, "SCRAM-SHA-512", allowed_reply_topic_prefixes=[FORBIDDEN_PREFIX])
    await bus_topics(config.model_copy(update={"bootstrap_servers": [plain]}), partitions=1, extra=[forbidden])
    bus = KafkaEventBus(config, max_concurrent=4, metrics=HostMetrics())
    await bus.start(runtime.route_envelope)
    try:
        await _ready(bus)
        async with (
            reading(plain, config.reply_topic) as replies,
            reading(plain, config.effective_dead_letter_topic) as letters,
            reading(plain, forbidden) as forbidden_replies,
            CommandProducer(plain, config.command_topic) as producer,
        ):
            refused = command(metadata={"reply_to": forbidden})
            after = [command(payload={"after": i}) for i in range(3)]
            for request in [refused, *after]:
                await producer.send(request, key=b"one-lane")
            counts = await replies.wait_for_correlations({r.correlation_id for r in [refused, *after]}, timeout=30)
            [letter] = await letters.wait_for(1, timeout=10)
            assert headers_of(letter)["onex.dlq.reason"] == "reply_refused"
            assert "TopicAuthorizationFailedError" in headers_of(letter)["onex.dlq.detail"]
            assert forbidden_replies.records == []
        answer = {e.correlation_id: e for e in replies.envelopes()}[refused.correlation_id]
        assert answer.error_code == "forbidden"
        assert all(n == 1 for n in counts.values())
    finally:
        await bus.stop(timeout_seconds=10)


async def test_a_wrong_password_gives_one_clear_error_and_an_unready_host_not_a_crash(
    secured_broker: SecuredBroker, runtime: NodeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-password-7f3a"
    config = secured_broker.config(
        unique_prefix("badpass").replace("t.", f"{PREFIX}.", 1), HOST_USER, "SCRAM-SHA-512", password=wrong
    )
    register_secrets(secret_values(config))
    bus = KafkaEventBus(config, max_concurrent=4, metrics=HostMetrics())
    try:
        with caplog.at_level(logging.WARNING):
            async with asyncio.timeout(config.startup_timeout_seconds / 2):
                await bus.start(runtime.route_envelope)  # returns: no exception for the process to crash on
            await asyncio.sleep(1.0)
        health = bus.health()
        assert (health.live, health.ready) == (True, False)
        assert "refused the credentials" in str(health.details["error"])
        ours = [r for r in caplog.records if r.name.startswith("onex_host") and r.levelno >= logging.ERROR]
        assert len(ours) == 1, [r.getMessage() for r in ours]
        assert "SaslAuthenticationFailed" in ours[0].getMessage()
        shown = scrub(caplog.text) + json.dumps(health.model_dump(mode="json"))
        assert wrong not in shown
    finally:
        await bus.stop(timeout_seconds=5)
        forget_secrets()
