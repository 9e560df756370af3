"""Each service fixture hands over a server that does real work (whichever provider supplied it)."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.support.builders.kafka_bus import create_topics
from tests.support.provisioning.services import ConsulEndpoint, KafkaEndpoint, PostgresEndpoint, VaultEndpoint


def test_postgres_runs_queries_in_the_configured_database(postgres_service: PostgresEndpoint) -> None:
    with psycopg.connect(postgres_service.dsn) as conn:
        conn.execute("CREATE TEMP TABLE greeting (word text)")
        conn.execute("INSERT INTO greeting VALUES (%s)", ("hello",))
        row = conn.execute("SELECT word, current_database(), current_user FROM greeting").fetchone()
    assert row == ("hello", postgres_service.database, postgres_service.user)


def test_vault_stores_and_returns_a_kv_secret(vault_service: VaultEndpoint) -> None:
    import hvac

    client = hvac.Client(url=vault_service.addr, token=vault_service.token)
    path = f"onex-smoke/{uuid.uuid4().hex}"
    client.secrets.kv.v2.create_or_update_secret(path=path, secret={"api_key": "s3cret"})
    stored = client.secrets.kv.v2.read_secret_version(path=path, raise_on_deleted_version=True)
    assert stored["data"]["data"] == {"api_key": "s3cret"}


def test_consul_stores_and_returns_a_kv_value(consul_service: ConsulEndpoint) -> None:
    key = f"onex-smoke/{uuid.uuid4().hex}"
    put = urllib.request.Request(f"{consul_service.addr}/v1/kv/{key}", data=b"hello", method="PUT")
    with urllib.request.urlopen(put, timeout=10) as response:
        assert json.loads(response.read()) is True
    with urllib.request.urlopen(f"{consul_service.addr}/v1/kv/{key}?raw", timeout=10) as response:
        assert response.read() == b"hello"


async def test_kafka_delivers_a_produced_record_to_a_consumer(kafka_service: KafkaEndpoint) -> None:
    topic = f"onex-smoke-{uuid.uuid4().hex}"
    await create_topics(kafka_service.bootstrap, [topic], partitions=1)  # the brokers auto-create nothing
    producer = AIOKafkaProducer(bootstrap_servers=kafka_service.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"ping", key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_service.bootstrap, group_id=f"g-{topic}", auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            record = await consumer.getone()
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (b"k", b"ping")


async def test_kafka_keeps_records_across_a_broker_restart(kafka_service: KafkaEndpoint) -> None:
    if kafka_service.controller is None:
        pytest.skip("this session does not own the broker (given by the environment or a container)")
    topic = f"onex-restart-{uuid.uuid4().hex}"
    await create_topics(kafka_service.bootstrap, [topic], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_service.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"before-restart")
    finally:
        await producer.stop()

    kafka_service.controller.stop()
    kafka_service.controller.start()

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_service.bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            record = await consumer.getone()
    finally:
        await consumer.stop()
    assert record.value == b"before-restart"
