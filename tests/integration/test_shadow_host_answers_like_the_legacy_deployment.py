"""A shadow host beside a legacy node on the same command stream: ``shadow-diff`` finds them equal,
and a reply the shadow path changed is reported with its field diff (issue 6, test 1)."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.builders.factories import command
from tests.support.builders.host_process import ONEX_HOST, HostProcess, free_port
from tests.support.builders.kafka_bus import CommandProducer, bus_config, create_topics, unique_prefix
from tests.support.builders.kafka_host_contract import ECHO_NODE, write_kafka_host
from tests.support.builders.onex_cli import onex_host
from tests.support.doubles.legacy_node import LegacyNode
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

COMMANDS = 1_000

# The new implementation of the echo node changed one operation: ``status`` now runs the
# ``sleep`` action, whose reply reshapes the payload. The legacy node still echoes it.
CHANGED_NODE = {
    **ECHO_NODE,
    "operations": {
        **ECHO_NODE["operations"],
        "status": {"handler_type": "local", "side_effects": "none", "action": "sleep"},
    },
}


async def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient() as client:
        text = (await client.get(url, timeout=5)).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def _wait_for_matches(
    url: str, wanted: float, timeout: float = 60
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with asyncio.timeout(timeout):
        while True:
            try:
                samples = await _scrape(url)
                if samples.get(("onex_shadow_replies_total", (("outcome", "match"),)), 0) >= wanted:
                    return samples
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)


async def test_shadow_diff_reports_full_match_then_the_changed_reply(
    kafka_service: KafkaEndpoint, tmp_path: Path
) -> None:
    bootstrap = kafka_service.bootstrap
    primary = bus_config(bootstrap, unique_prefix("shadow"))
    shadow = primary.model_copy(update={"mode": "shadow"})
    await create_topics(
        bootstrap,
        [primary.command_topic, primary.response_topic, shadow.reply_topic, shadow.effective_dead_letter_topic],
    )
    contract = write_kafka_host(tmp_path, primary, mode="shadow", nodes={"echo": CHANGED_NODE})
    legacy = LegacyNode(
        bootstrap,
        group=f"{primary.consumer_group}.legacy",
        command_topic=primary.command_topic,
        response_topic=primary.response_topic,
    )
    topics = ["--legacy-topic", primary.response_topic, "--shadow-topic", shadow.reply_topic]
    metrics_port = free_port()
    follower = await asyncio.create_subprocess_exec(
        str(ONEX_HOST),
        "shadow-diff",
        "--bootstrap-servers",
        bootstrap,
        *topics,
        "--from-beginning",
        "--follow",
        "--metrics-port",
        str(metrics_port),
        "--metrics-bind",
        "127.0.0.1",
        "--format",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    await legacy.start()
    try:
        with HostProcess(contract, tmp_path) as host:
            await asyncio.to_thread(host.wait_ready, 60)
            await legacy.wait_assigned()
            requests = [
                command(payload={"i": i, "tags": ["a", "b"], "nested": {"n": i * 0.5}}) for i in range(COMMANDS)
            ]
            async with CommandProducer(bootstrap, primary.command_topic) as producer:
                await producer.send_many(requests)

                # 1. the same stream on both sides: every reply matches
                first = await onex_host(
                    "shadow-diff", "--bootstrap-servers", bootstrap, *topics, "--from-beginning",
                    "--max-replies", str(COMMANDS), "--duration", "60", "--min-match", "1.0", "--format", "json",
                )  # fmt: skip
                assert first.exit_code == 0, first.stdout + first.stderr
                report = first.json()
                print(
                    f"\nshadow-diff over {COMMANDS} commands: match rate {report['match_rate']:.2%}, "
                    f"counts {report['counts']}, latency difference {report['latency_difference']}"
                )
                assert report["match_rate"] == 1.0
                assert report["counts"]["match"] == COMMANDS
                assert report["counts"]["mismatch"] == 0
                assert report["gate"] == {"min_match": 1.0, "passed": True}

                # the long-lived comparator exports the same figures as metrics
                samples = await _wait_for_matches(f"http://127.0.0.1:{metrics_port}/metrics", COMMANDS)
                assert samples[("onex_shadow_match_rate", ())] == 1.0

                # 2. one command whose reply the shadow path changed
                changed = command(operation="status", payload={"seconds": 0, "echo": {"state": "ok"}})
                await producer.send(changed)

            second = await onex_host(
                "shadow-diff", "--bootstrap-servers", bootstrap, *topics, "--from-beginning",
                "--max-replies", str(COMMANDS + 1), "--duration", "60", "--min-match", "0.9999", "--format", "json",
            )  # fmt: skip
            assert second.exit_code == 1, second.stderr  # below the gate: a promotion would stop here
            report = second.json()
            assert report["counts"]["match"] == COMMANDS
            assert report["counts"]["mismatch"] == 1
            [mismatch] = report["mismatches"]
            print(f"changed reply reported as: {mismatch}")
            assert mismatch["correlation_id"] == str(changed.correlation_id)
            assert mismatch["operation"] == "status"
            assert {(d["path"], d["kind"]) for d in mismatch["differences"]} == {
                ("payload.echo", "only_legacy"),
                ("payload.seconds", "only_legacy"),
                ("payload.slept_seconds", "only_shadow"),
                ("payload.state", "only_shadow"),
            }

            # 3. without a limit, --from-beginning compares what the topics hold, then stops
            everything = await onex_host(
                "shadow-diff", "--bootstrap-servers", bootstrap, *topics, "--from-beginning", "--format", "json"
            )  # fmt: skip
            assert everything.exit_code == 0, everything.stdout + everything.stderr
            assert everything.json()["counts"] == report["counts"]
            assert everything.json()["pending"] == 0
    finally:
        await legacy.stop()
        if follower.returncode is None:
            follower.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(follower.communicate(), 30)
    assert follower.returncode == 0, stderr.decode()
    final = json.loads(stdout)
    assert final["counts"]["match"] == COMMANDS
    assert final["counts"]["mismatch"] == 1
