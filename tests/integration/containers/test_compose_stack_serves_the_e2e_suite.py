"""The compose stack, up with this machine's images, passes tests/e2e and survives a host restart under load.

deploy/compose/compose.yaml with compose.local.yaml (the images of
build/images.env and a loopback Kafka listener for the tests), waited on by
its healthchecks: the schema is migrated by the stack's own `migrate`
service, and tests/e2e (the suite `dagger call e2e` runs) speaks to the host
container over HTTP and Kafka. The stack is brought down with its volumes.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.support.provisioning.compose_stack import ComposeError, ComposeStack, compose_stack
from tests.support.provisioning.containers import docker_unreachable_reason
from tests.support.provisioning.images import IMAGES_ENV, SERVICES, describe_image
from tests.support.provisioning.provision import PROVISIONS, Provision

pytestmark = [pytest.mark.containers, pytest.mark.slow]

COMMAND_TOPIC = "onex.cmd.runtime.infra.v1"
RESPONSE_TOPIC = "onex.evt.runtime.infra.v1"
COMMANDS_UNDER_LOAD = 200
SEND_INTERVAL_SECONDS = 0.05
ANSWERED_WITHIN_SECONDS = 240.0


def _unavailable(config: pytest.Config, reason: str) -> None:
    if config.getoption("--require-services", default=False):
        pytest.fail(f"{reason} (--require-services is set)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    if (reason := docker_unreachable_reason()) is not None:
        _unavailable(request.config, f"the compose stack needs a Docker engine: {reason}")
    if not IMAGES_ENV.is_file():
        _unavailable(request.config, f"{IMAGES_ENV} is missing: run `make docker` to resolve the stack's images")
    try:
        with compose_stack(tmp_path_factory.mktemp("compose")) as running:
            for service in SERVICES:
                PROVISIONS.append(Provision(f"{service}", "compose", describe_image(service)))
            yield running
    except ComposeError as exc:
        pytest.fail(f"the compose stack did not come up:\n{exc}", pytrace=False)


def test_the_e2e_suite_passes_against_the_host_container(stack: ComposeStack) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/e2e", "-q", "-p", "no:cacheprovider", "-rs"],
        env={**os.environ, **stack.e2e_environment()},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{output[-6000:]}\n{stack.evidence()}"
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary), summary
    assert "skipped" not in summary, output[-3000:]


def _command(slug: str) -> dict[str, Any]:
    return {
        "envelope_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
        "source_node": "restart-under-load",
        "target_node": "postgres_adapter",
        "handler_type": "db",
        "operation": "upsert_registration",
        "payload": {"args": [slug, "effect", "1.0.0", f"http://{slug}"]},
    }


async def _load_across_a_restart(stack: ComposeStack) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Send commands at a bounded rate, restart the host container a quarter of the way in, collect the replies."""
    commands = [_command(f"load-{index:04d}-{uuid.uuid4().hex[:6]}") for index in range(COMMANDS_UNDER_LOAD)]
    restart_errors: list[BaseException] = []

    def restart() -> None:
        try:
            stack.run("restart", "--timeout", "45", "onex-host", timeout=180)
        except BaseException as exc:  # reported by the test, not lost in the thread
            restart_errors.append(exc)

    consumer = AIOKafkaConsumer(
        RESPONSE_TOPIC,
        bootstrap_servers=stack.kafka_bootstrap,
        group_id=f"restart-{uuid.uuid4().hex}",
        auto_offset_reset="latest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    replies: dict[str, dict[str, Any]] = {}
    restarter = threading.Thread(target=restart, name="compose-restart")
    async with asyncio.timeout(ANSWERED_WITHIN_SECONDS):
        await consumer.start()
        await producer.start()
        try:
            while not consumer.assignment():
                await asyncio.sleep(0.2)

            async def collect() -> None:
                wanted = {command["correlation_id"] for command in commands}
                async for record in consumer:
                    reply = json.loads(record.value)
                    if reply.get("correlation_id") in wanted:
                        replies.setdefault(reply["correlation_id"], reply)
                    if wanted <= replies.keys():
                        return

            collector = asyncio.create_task(collect())
            for index, command in enumerate(commands):
                if index == COMMANDS_UNDER_LOAD // 4:
                    restarter.start()
                key = command["correlation_id"].encode()
                await producer.send_and_wait(COMMAND_TOPIC, json.dumps(command).encode(), key=key)
                await asyncio.sleep(SEND_INTERVAL_SECONDS)
            await asyncio.to_thread(restarter.join, 180)
            await collector
        finally:
            await producer.stop()
            await consumer.stop()
    if restart_errors:
        raise restart_errors[0]
    return replies, commands


def test_a_host_container_restart_under_load_answers_every_command(stack: ComposeStack) -> None:
    started_before = stack.started_at("onex-host")
    try:
        replies, commands = asyncio.run(_load_across_a_restart(stack))
    except TimeoutError:
        pytest.fail(f"not every command was answered within {ANSWERED_WITHIN_SECONDS:.0f}s\n{stack.evidence()}")
    assert stack.started_at("onex-host") != started_before, "the host container was not restarted"
    assert len(replies) == len(commands)
    failed = [reply for reply in replies.values() if reply.get("success") is not True]
    assert not failed, failed[:3]
    stack.wait_healthy("onex-host")
