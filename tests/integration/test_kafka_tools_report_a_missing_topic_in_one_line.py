"""Each Kafka tool meets a topic that does not exist with one line and its documented exit code, creating nothing.

The three tools give the same fact three meanings, as the runbook says: a
dead-letter topic to redrive is bad input (2), a missing reply topic means the
deployment to compare is unreachable (3), and a handover onto a missing
command topic is refused (1).
"""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.builders.kafka_bus import create_topics, unique_prefix
from tests.support.builders.onex_cli import onex_host
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = pytest.mark.kafka


async def test_a_missing_topic_is_one_line_with_each_tools_exit_code(kafka_service: KafkaEndpoint) -> None:
    bootstrap = kafka_service.bootstrap
    prefix = unique_prefix("missing")
    present, missing = f"{prefix}.replies", f"{prefix}.nowhere"
    await create_topics(bootstrap, [present])
    connection = ["--bootstrap-servers", bootstrap]
    runs = {
        "dlq redrive": (
            ["dlq", "redrive", "--from", missing, *connection],
            2,
            f"error: --from: dead-letter topic '{missing}' does not exist",
        ),
        "shadow-diff": (
            ["shadow-diff", "--legacy-topic", present, "--shadow-topic", missing, "--duration", "1", *connection],
            3,
            f"error: topic '{missing}' does not exist",
        ),
        "offsets handover": (
            ["offsets", "handover", "--from-group", "a", "--to-group", "b", "--topic", missing, *connection],
            1,
            f"error: handover refused: topic '{missing}' does not exist",
        ),
    }
    for tool, (argv, code, line) in runs.items():
        result = await onex_host(*argv)
        assert (result.exit_code, result.stderr.splitlines()) == (code, [line]), tool
        assert result.stdout == "", tool

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        assert missing not in await admin.list_topics()
    finally:
        await admin.close()
