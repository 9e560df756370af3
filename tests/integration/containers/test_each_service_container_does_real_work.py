"""Each service's container, started by the testcontainers provider from deploy/services.yaml, does real work."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.support.builders.kafka_bus import create_topics
from tests.support.provisioning.endpoints import ConsulEndpoint, KafkaEndpoint, PostgresEndpoint, VaultEndpoint

pytestmark = pytest.mark.containers


@pytest.mark.postgres
def test_the_postgres_container_creates_the_declared_user_and_database(postgres_container: PostgresEndpoint) -> None:
    with psycopg.connect(postgres_container.dsn, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS smoke (word text)")
        conn.execute("INSERT INTO smoke VALUES (%s)", ("hello",))
        row = conn.execute("SELECT count(*) > 0, current_database(), current_user FROM smoke").fetchone()
    assert row == (True, "onex", "onex")


@pytest.mark.postgres
def test_the_postgres_container_refuses_a_wrong_password(postgres_container: PostgresEndpoint) -> None:
    wrong = postgres_container.dsn.replace(f":{postgres_container.password}@", ":wrong@")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=10)


@pytest.mark.vault
def test_the_openbao_container_serves_kv_with_the_dev_root_token(vault_container: VaultEndpoint) -> None:
    import hvac

    assert vault_container.token == "onex-dev-root"
    client = hvac.Client(url=vault_container.addr, token=vault_container.token, timeout=10)
    path = f"onex-smoke/{uuid.uuid4().hex}"
    client.secrets.kv.v2.create_or_update_secret(path=path, secret={"api_key": "s3cret"})
    stored = client.secrets.kv.v2.read_secret_version(path=path, raise_on_deleted_version=True)
    assert stored["data"]["data"] == {"api_key": "s3cret"}
    assert not hvac.Client(url=vault_container.addr, token="wrong", timeout=10).is_authenticated()


@pytest.mark.consul
def test_the_consul_container_runs_a_dev_agent_with_kv(consul_container: ConsulEndpoint) -> None:
    with urllib.request.urlopen(f"{consul_container.addr}/v1/status/leader", timeout=10) as response:
        assert json.loads(response.read()), "the dev agent has no leader"
    key = f"onex-smoke/{uuid.uuid4().hex}"
    put = urllib.request.Request(f"{consul_container.addr}/v1/kv/{key}", data=b"hello", method="PUT")
    with urllib.request.urlopen(put, timeout=10) as response:
        assert json.loads(response.read()) is True
    with urllib.request.urlopen(f"{consul_container.addr}/v1/kv/{key}?raw", timeout=10) as response:
        assert response.read() == b"hello"


async def _broker_settings(bootstrap: str, *names: str) -> dict[str, str]:
    """The broker's effective values of ``names`` (DescribeConfigs on broker 1)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20000)
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
    finally:
        await admin.close()
    found: dict[str, str] = {}
    for response in responses:
        for resource in response.resources:
            for entry in resource[4]:
                if entry[0] in names:
                    found[entry[0]] = entry[1]
    return found


@pytest.mark.kafka
async def test_the_kafka_container_takes_its_settings_from_kafka_variables(kafka_container: KafkaEndpoint) -> None:
    async with asyncio.timeout(60):
        settings = await _broker_settings(kafka_container.bootstrap, "num.partitions", "auto.create.topics.enable")
    assert settings == {"num.partitions": "6", "auto.create.topics.enable": "false"}


@pytest.mark.kafka
async def test_the_kafka_container_advertises_its_published_port_and_delivers(kafka_container: KafkaEndpoint) -> None:
    topic = f"onex-smoke-{uuid.uuid4().hex}"
    async with asyncio.timeout(60):
        await create_topics(kafka_container.bootstrap, [topic], partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_container.bootstrap, request_timeout_ms=20000)
    async with asyncio.timeout(60):
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"ping", key=b"k")
        finally:
            await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_container.bootstrap, group_id=f"g-{topic}", auto_offset_reset="earliest"
    )
    async with asyncio.timeout(60):
        await consumer.start()
        try:
            record = await consumer.getone()
        finally:
            await consumer.stop()
    assert (record.key, record.value) == (b"k", b"ping")
