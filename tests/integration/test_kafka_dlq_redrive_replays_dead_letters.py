"""``onex-host dlq redrive`` replays dead-lettered commands once the cause is fixed."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json

import pytest

from onex_host.cli import main
from onex_host.infra.bus.kafka import KafkaEventBus
from onex_host.infra.metrics import HostMetrics
from tests.support.builders.factories import command, echo_runtime
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, headers_of, reading, unique_prefix
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = pytest.mark.kafka


def run_redrive(*argv: str) -> tuple[int, str, str]:
    """``onex-host dlq redrive ARGV`` in-process, through ``main`` (which maps errors to exit codes)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["dlq", "redrive", *argv])
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


async def test_redrive_replays_dead_letters_of_one_reason_to_their_origin(kafka_service: KafkaEndpoint) -> None:
    bootstrap = kafka_service.bootstrap
    config = bus_config(bootstrap, unique_prefix("redrive"))
    dlq_topic = config.effective_dead_letter_topic
    await bus_topics(config, partitions=2)
    not_yet_deployed = [command(target="later", payload={"i": i}) for i in range(3)]

    # 1. a host without the "later" node dead-letters its commands (and a non-JSON one)
    old_runtime = await echo_runtime("echo")
    old_bus = KafkaEventBus(config, max_concurrent=4, metrics=HostMetrics())
    await old_bus.start(old_runtime.route_envelope)
    async with (
        reading(bootstrap, dlq_topic) as dead_letters,
        CommandProducer(bootstrap, config.command_topic) as producer,
    ):
        for request in not_yet_deployed:
            await producer.send(request)
        await producer.send_raw(b"garbage", key=b"g")
        await dead_letters.wait_for(4, timeout=30)
    assert sorted(headers_of(r)["onex.dlq.reason"] for r in dead_letters.records) == ["not_json", *["unknown_node"] * 3]
    await old_bus.stop(timeout_seconds=10)
    await old_runtime.shutdown()

    # 2. the fix is deployed; an operator redrives the unknown_node dead letters
    runtime = await echo_runtime("echo", "later")
    bus = KafkaEventBus(config, max_concurrent=4, metrics=HostMetrics())
    await bus.start(runtime.route_envelope)
    try:
        async with reading(bootstrap, config.reply_topic) as replies:
            code, out, err = await asyncio.to_thread(
                run_redrive,
                "--from",
                dlq_topic,
                "--reason",
                "unknown_node",
                "--bootstrap-servers",
                bootstrap,
                "--format",
                "json",
            )
            assert (code, err) == (0, "")
            report = json.loads(out)
            assert report["scanned"] == 4
            assert report["redriven"] == 3
            assert report["redriven_by_topic"] == {config.command_topic: 3}
            assert report["skipped_by_reason"] == {"not_json": 1}

            await replies.wait_for(6, timeout=30)  # 3 unknown_node replies earlier, 3 successes now
            successes = {e.correlation_id: e for e in replies.envelopes() if e.success}
            assert set(successes) == {r.correlation_id for r in not_yet_deployed}
            assert all(e.source_node == "later" for e in successes.values())

        # 3. progress is remembered: a second pass finds nothing new
        code, out, _ = await asyncio.to_thread(run_redrive, "--from", dlq_topic, "--bootstrap-servers", bootstrap)
        assert code == 0
        assert out.splitlines()[0] == f"{dlq_topic}: scanned 0, redriven 0"
    finally:
        await bus.stop(timeout_seconds=10)
        await runtime.shutdown()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "x", "--reason", "bogus"], "error: --reason: unknown reason 'bogus'"),
        (["--from", "x", "--to", "x"], "error: --to: must differ from --from"),
        (["--from", "t.redrive.no-such-topic"], "error: --from: dead-letter topic 't.redrive.no-such-topic' does not"),
    ],
)
async def test_bad_redrive_input_exits_2_with_one_line(
    kafka_service: KafkaEndpoint, argv: list[str], message: str
) -> None:
    code, out, err = await asyncio.to_thread(run_redrive, *argv, "--bootstrap-servers", kafka_service.bootstrap)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(message)
