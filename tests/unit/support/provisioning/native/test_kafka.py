"""Pieces of the native Kafka broker that need no broker."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.support.provisioning.native.kafka import api_versions_ok, broker_properties_from_env


def test_image_env_becomes_broker_properties_by_the_apache_kafka_image_rule() -> None:
    env = {
        "KAFKA_NUM_PARTITIONS": "6",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT",
        "KAFKA_LISTENER_NAME_INTERNAL_SSL_KEY__PASSWORD": "x",
        "KAFKA_SOME___DASHED": "y",
        "JAVA_OPTS": "ignored",
    }
    assert broker_properties_from_env(env) == {
        "num.partitions": "6",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT",
        "listener.name.internal.ssl.key_password": "x",
        "some-dashed": "y",
    }


def test_a_server_that_is_not_kafka_is_not_ready() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:

        def answer_garbage() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"\x00\x00\x00\x06\x00\x00\x00\x09\x00\x00")

        thread = threading.Thread(target=answer_garbage)
        thread.start()
        assert api_versions_ok(server.getsockname()[1]) is False
        thread.join()


def test_a_closed_port_raises_so_readiness_polling_retries() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        api_versions_ok(port)
