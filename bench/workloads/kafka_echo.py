"""Workload 2: Kafka echo end to end on a real broker, onex host vs raw aiokafka vs FastStream.

One native Kafka broker (``NativeKafka``, the version ``make services``
installs) serves every service in turn. Each service gets its own command
topic (6 partitions), reply topic and consumer group, and runs as its own
process: ``onex-host run`` on a Kafka contract with the local echo handler,
``bench.baselines.raw_aiokafka_echo`` and ``bench.baselines.faststream_echo``
(see their docstrings for how their commit rule matches the bus's).

Two measurements per service, both driven from this process, which is the
load generator (the machine has 2 cores: the service, the broker and this
process share them, so this process does as little as it can while a
service is being timed):

- **Sustained throughput**: all commands (1 KiB payloads) are produced
  before the service starts, so only the service limits the rate. The reply
  topic stamps records with the broker's append time (``LogAppendTime``);
  throughput is replies / (last reply's time - first reply's time). While the
  service runs, this process only polls the reply topic's end offsets; the
  replies are read (``read_committed``, see ``ReplyTally``) once those say
  enough may be there.
- **Round trip at a fixed offered load** of 1,000 commands/s (open loop:
  commands are sent on schedule whether or not replies came back), after a
  one-second warm-up. A round trip runs from a command's scheduled send time
  to the moment its reply (matched by record key = correlation id) is read
  here, so a late send counts against the latency (no coordinated omission);
  how late this process itself sent is reported beside it (send lag), so a
  late generator is visible rather than silently charged. A command that
  never got a reply counts as a round trip as long as the whole wait (a
  lower bound), never as a dropped sample.

Every service runs ``repeats`` times in alternating order (forward,
reversed, ...) after a discarded warm-up pass on the broker
(``bench.repetition``); each repetition is one sample per key.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tests.support.builders.host_process import HostProcess
from tests.support.builders.kafka_bus import create_topics as create_test_topics
from tests.support.builders.kafka_host_contract import write_kafka_host
from tests.support.provisioning.native import NativeKafka

from bench.profiling import sampled
from bench.repetition import alternating_orders
from bench.settings import Settings
from bench.workloads._stats import summarize
from onex_host.core import EnumHandlerType, ModelOnexEnvelope
from onex_host.infra.bus.base import Delivery
from onex_host.infra.bus.kafka.config import KafkaBusConfig

PARTITIONS = 6
PAYLOAD = {"data": "x" * 1024}
OFFERED_PER_S = 1_000
WARMUP_S = 1.0
REPLY_WAIT_S = 15.0  # after the last send, how long a reply may still arrive before it counts as missing
FASTSTREAM_MAX_RECORDS = 1_000  # records per batch of the FastStream batch subscriber (README: its best measured)
# Throughput runs of the slowest services are capped, to keep ``make bench`` short: FastStream per message
# (~400/s here: 5,000 commands are a ~12 s window) and the host tracing every envelope (~1,300/s: ~8 s).
COMMAND_CAP = {"faststream_per_message": 5_000, "onex_traced_all": 10_000}
HOST_IN_FLIGHT = 64  # the bench host's max_concurrent_operations; the bounded raw loop is held to the same
WARMUP_SERVICES = ("raw_aiokafka", "onex")  # the discarded pass that warms the broker (and the page cache)


@dataclass(frozen=True)
class Plan:
    commands: int
    rtt_seconds: float


@dataclass(frozen=True)
class Topics:
    bootstrap: str
    command: str
    reply: str
    group: str

    @classmethod
    def fresh(cls, bootstrap: str, service: str) -> Topics:
        prefix = f"bench.{service}.{uuid.uuid4().hex[:8]}"
        return cls(bootstrap, f"{prefix}.cmd", f"{prefix}.evt", f"{prefix}.group")


# -- pure parts ---------------------------------------------------------------------------------


def due_count(elapsed_s: float, rate_per_s: float, total: int) -> int:
    """How many commands an open-loop generator should have sent ``elapsed_s`` after starting."""
    if elapsed_s < 0:
        return 0
    return min(total, int(elapsed_s * rate_per_s) + 1)


def replies_per_second(count: int, first_ms: int, last_ms: int) -> float:
    """Throughput over the span of broker append times: ``count`` replies cover ``count - 1`` gaps."""
    if count < 2 or last_ms <= first_ms:
        return float("nan")
    return (count - 1) * 1000.0 / (last_ms - first_ms)


def round_trips_ms(
    scheduled: dict[bytes, float], received: dict[bytes, float], gave_up_at: float, skip: int = 0
) -> list[float]:
    """Round trips of the commands scheduled after the first ``skip`` (dicts keep send order).

    A command without a reply counts as waiting until ``gave_up_at`` (when the
    bench stopped waiting): a lower bound of its round trip, so a service
    cannot improve its percentiles by losing replies.
    """
    keys = list(scheduled)[skip:]
    return [(received.get(key, gave_up_at) - scheduled[key]) * 1000 for key in keys]


def send_lags_ms(scheduled: dict[bytes, float], sent: dict[bytes, float], skip: int = 0) -> list[float]:
    """How late the generator itself sent each command after the first ``skip`` (its own share of a round trip)."""
    keys = list(scheduled)[skip:]
    return [(sent[key] - scheduled[key]) * 1000 for key in keys if key in sent]


# -- the services under test ----------------------------------------------------------------------


@dataclass
class Service:
    """A service under test: its process and the file its output goes to."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def running(self) -> bool:
        return self.process.poll() is None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@contextlib.contextmanager
def onex_host(
    topics: Topics, workdir: Path, env: dict[str, str] | None = None, delivery: Delivery = "at_least_once"
) -> Iterator[Service]:
    """``onex-host run`` with the Kafka bus at its defaults (1 s commits, 500 ms polls) and the echo node,
    ``HOST_IN_FLIGHT`` envelopes in flight at most."""
    config = KafkaBusConfig(
        bootstrap_servers=[topics.bootstrap],
        consumer_group=topics.group,
        command_topic=topics.command,
        response_topic=topics.reply,
        delivery=delivery,
    )
    contract = write_kafka_host(workdir / "onex", config, mode="primary", max_concurrent=HOST_IN_FLIGHT)
    with HostProcess(contract, workdir, env=env) as host:
        try:
            yield Service(host.proc, host.log_path)
        finally:
            host.terminate(timeout=30)


def onex_delivering(delivery: Delivery) -> Callable[[Topics, Path], contextlib.AbstractContextManager[Service]]:
    """The onex host with ``event_bus.config.delivery`` set to ``delivery``."""

    @contextlib.contextmanager
    def start(topics: Topics, workdir: Path) -> Iterator[Service]:
        with onex_host(topics, workdir, delivery=delivery) as service:
            yield service

    return start


@contextlib.contextmanager
def otlp_sink() -> Iterator[str]:
    """A local OTLP/HTTP trace receiver that accepts every export (200, empty response): the exporter's
    full cost (batching, protobuf encoding, one HTTP request per batch) without a real backend's."""
    from aiohttp import web

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner: list[web.AppRunner] = []

    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def serve() -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/traces", accept)
        runner.append(web.AppRunner(app, access_log=None))
        await runner[0].setup()
        site = web.TCPSite(runner[0], "127.0.0.1", 0)
        await site.start()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    host, port = runner[0].addresses[0][:2]
    try:
        yield f"http://{host}:{port}/v1/traces"
    finally:
        asyncio.run_coroutine_threadsafe(runner[0].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def traced_onex(ratio: str) -> Callable[[Topics, Path], contextlib.AbstractContextManager[Service]]:
    """The onex host exporting every sampled envelope span over OTLP/HTTP, sampled at ``ratio``."""

    @contextlib.contextmanager
    def start(topics: Topics, workdir: Path) -> Iterator[Service]:
        with otlp_sink() as endpoint:
            env = {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint,
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": ratio,
            }
            with onex_host(topics, workdir, env) as service:
                yield service

    return start


def baseline(module: str, *extra: str) -> Callable[[Topics, Path], contextlib.AbstractContextManager[Service]]:
    @contextlib.contextmanager
    def start(topics: Topics, workdir: Path) -> Iterator[Service]:
        log_path = workdir / f"{module.rsplit('.', 1)[-1]}-{uuid.uuid4().hex[:6]}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    module,
                    "--bootstrap",
                    topics.bootstrap,
                    "--command-topic",
                    topics.command,
                    "--response-topic",
                    topics.reply,
                    "--group",
                    topics.group,
                    *extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                yield Service(process, log_path)
            finally:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)

    return start


SERVICES: dict[str, Callable[[Topics, Path], contextlib.AbstractContextManager[Service]]] = {
    "raw_aiokafka": baseline("bench.baselines.raw_aiokafka_echo"),
    f"raw_aiokafka_in_flight_{HOST_IN_FLIGHT}": baseline(
        "bench.baselines.raw_aiokafka_echo", "--max-in-flight", str(HOST_IN_FLIGHT)
    ),
    "onex": onex_host,
    "onex_exactly_once": onex_delivering("exactly_once"),
    "onex_traced_all": traced_onex("1.0"),
    "onex_traced_1pct": traced_onex("0.01"),
    "faststream": baseline("bench.baselines.faststream_echo", "--batch", "--max-records", str(FASTSTREAM_MAX_RECORDS)),
    "faststream_per_message": baseline("bench.baselines.faststream_echo"),
}


# -- the load generator -------------------------------------------------------------------------


def commands(count: int) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs: echo envelopes keyed by correlation id, as the bus keys them."""
    out = []
    for _ in range(count):
        envelope = ModelOnexEnvelope(
            source_node="bench",
            target_node="echo",
            handler_type=EnumHandlerType.LOCAL,
            operation="echo",
            payload=PAYLOAD,
        )
        out.append((str(envelope.correlation_id).encode(), envelope.to_wire()))
    return out


async def create_topics(topics: Topics) -> None:
    await create_test_topics(
        topics.bootstrap,
        [topics.command, f"{topics.command}.dlq", topics.reply],
        PARTITIONS,
        # the reply's append time on the broker is what throughput is measured from
        {topics.reply: {"message.timestamp.type": "LogAppendTime"}},
    )


async def preproduce(topics: Topics, load: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=topics.bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(topics.command, value, key=key) for key, value in load]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def committed_reader(bootstrap: str) -> AIOKafkaConsumer:
    """A reader that sees what a downstream ``read_committed`` consumer would: an exactly-once service's
    replies only once their transaction committed, never its aborted ones (no effect on the others)."""
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed")


@dataclass
class ReplyTally:
    """Committed replies read so far and the broker append times of the first and the last.

    End offsets cannot count replies: a transactional producer's commit markers take offsets too (and an
    aborted transaction's records stay in the log), so the records themselves are read, as a
    ``read_committed`` reader. That reading happens only once the end offsets say enough may be there,
    so while the service is being timed this process still only polls end offsets.
    """

    count: int = 0
    first_ms: int | None = None
    last_ms: int | None = None

    def add(self, timestamp_ms: int, timestamp_type: int, topic: str) -> None:
        if timestamp_type != 1:
            raise RuntimeError(f"{topic} does not stamp LogAppendTime; throughput would use client clocks")
        self.count += 1
        self.first_ms = timestamp_ms if self.first_ms is None else min(self.first_ms, timestamp_ms)
        self.last_ms = timestamp_ms if self.last_ms is None else max(self.last_ms, timestamp_ms)


async def drain(consumer: AIOKafkaConsumer, topic: str, tally: ReplyTally, deadline: float) -> None:
    """Read every committed reply up to the topic's current last stable offset into ``tally``, until
    ``deadline`` (``time.monotonic()``) at the latest: a broker that stops answering ends the wait."""
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    ends = await consumer.end_offsets(partitions)
    behind = [tp for tp in partitions if await consumer.position(tp) < ends[tp]]
    while behind and time.monotonic() < deadline:
        batches = await consumer.getmany(*behind, timeout_ms=1_000, max_records=10_000)
        for records in batches.values():
            for record in records:
                tally.add(record.timestamp, record.timestamp_type, topic)
        behind = [tp for tp in behind if await consumer.position(tp) < ends[tp]]


async def sustained(topics: Topics, service: Service, count: int) -> dict[str, float]:
    """Wait for ``count`` committed replies (bounded), then measure their rate from broker timestamps."""
    deadline = time.monotonic() + count / 200 + 60
    consumer = committed_reader(topics.bootstrap)
    await consumer.start()
    partitions = [TopicPartition(topics.reply, p) for p in range(PARTITIONS)]
    tally = ReplyTally()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while tally.count < count and time.monotonic() < deadline:
            if not service.running():
                raise RuntimeError(f"service exited while under load:\n{service.logs()}")
            await asyncio.sleep(0.25)
            ends = await consumer.end_offsets(partitions)
            if sum(ends.values()) >= count:
                await drain(consumer, topics.reply, tally, deadline)
    finally:
        await consumer.stop()
    if tally.count < 2 or tally.first_ms is None or tally.last_ms is None:
        raise RuntimeError(f"only {tally.count} of {count} replies before the deadline:\n{service.logs()}")
    return {"per_s": replies_per_second(tally.count, tally.first_ms, tally.last_ms), "replies": float(tally.count)}


async def offered_load(topics: Topics, service: Service, seconds: float) -> dict[str, float]:
    """Round trips at ``OFFERED_PER_S`` for ``WARMUP_S + seconds``; only the part after the warm-up counts."""
    total = int((WARMUP_S + seconds) * OFFERED_PER_S)
    load = commands(total)
    reader = committed_reader(topics.bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=topics.bootstrap, acks="all", linger_ms=0)
    await reader.start()
    await producer.start()
    scheduled: dict[bytes, float] = {}
    sent: dict[bytes, float] = {}
    received: dict[bytes, float] = {}

    async def read() -> None:
        while True:
            batches = await reader.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    received.setdefault(record.key, now)

    reading = None
    try:
        partitions = [TopicPartition(topics.reply, p) for p in range(PARTITIONS)]
        reader.assign(partitions)
        await reader.seek_to_end(*partitions)
        for tp in partitions:
            await reader.position(tp)
        reading = asyncio.create_task(read())
        started = time.perf_counter()
        index = 0
        while index < total:
            due = due_count(time.perf_counter() - started, OFFERED_PER_S, total)
            while index < due:
                key, value = load[index]
                scheduled[key] = started + index / OFFERED_PER_S
                sent[key] = time.perf_counter()
                await producer.send(topics.command, value, key=key)
                index += 1
            await asyncio.sleep(0.0005)
        send_span = time.perf_counter() - started
        deadline = time.monotonic() + REPLY_WAIT_S
        while len(received) < total and time.monotonic() < deadline and service.running():
            await asyncio.sleep(0.05)
        gave_up_at = time.perf_counter()
    finally:
        if reading is not None:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
        await producer.stop()
        await reader.stop()
    skip = int(WARMUP_S * OFFERED_PER_S)
    stats = summarize(round_trips_ms(scheduled, received, gave_up_at, skip))
    lag = summarize(send_lags_ms(scheduled, sent, skip))
    measured_keys = list(scheduled)[skip:]
    return {
        "p50": stats["p50"],
        "p99": stats["p99"],
        "samples": stats["n"],
        "offered_per_s": total / send_span,
        "missing": float(sum(1 for key in measured_keys if key not in received)),
        "send_lag_p99": lag["p99"],
        "send_lag_max": lag["max"],
    }


async def measure(name: str, bootstrap: str, plan: Plan, workdir: Path) -> dict[str, float]:
    count = min(plan.commands, COMMAND_CAP.get(name, plan.commands))
    topics = Topics.fresh(bootstrap, name)
    await create_topics(topics)
    await preproduce(topics, commands(count))
    with SERVICES[name](topics, workdir) as service:
        with sampled(service.process.pid, f"kafka_echo_{name}"):
            throughput = await sustained(topics, service, count)
        latency = await offered_load(topics, service, plan.rtt_seconds)
    return {**{f"throughput_{k}": v for k, v in throughput.items()}, **{f"rtt_{k}": v for k, v in latency.items()}}


def keys(name: str, measured: dict[str, float]) -> dict[str, float]:
    """The published key names: the onex RTT keys are the issue's, the others carry the service name."""
    rtt = "kafka_rtt" if name == "onex" else f"kafka_rtt_{name}"
    return {
        f"kafka_echo_{name}_per_s": measured["throughput_per_s"],
        f"kafka_echo_{name}_replies": measured["throughput_replies"],
        f"{rtt}_p50_ms_at_1000_per_s": measured["rtt_p50"],
        f"{rtt}_p99_ms_at_1000_per_s": measured["rtt_p99"],
        f"{rtt}_samples": measured["rtt_samples"],
        f"{rtt}_offered_per_s": measured["rtt_offered_per_s"],
        f"{rtt}_missing_replies": measured["rtt_missing"],
        f"{rtt}_send_lag_p99_ms": measured["rtt_send_lag_p99"],
        f"{rtt}_send_lag_max_ms": measured["rtt_send_lag_max"],
    }


def selected(settings: Settings) -> list[str]:
    """The services this run measures, in their first repetition's order; unknown names are an error."""
    if settings.kafka_services is None:
        return list(SERVICES)
    unknown = [name for name in settings.kafka_services if name not in SERVICES]
    if unknown:
        raise ValueError(f"BENCH_KAFKA_SERVICES: unknown service(s) {unknown}; known: {sorted(SERVICES)}")
    return list(settings.kafka_services)


def _progress(label: str, name: str, measured: dict[str, float], seconds: float) -> None:
    print(
        f"   kafka echo {label} {name}: {measured['throughput_per_s']:,.0f}/s; at 1,000/s p50 "
        f"{measured['rtt_p50']:.1f} ms, p99 {measured['rtt_p99']:.1f} ms, {measured['rtt_missing']:.0f} missing, "
        f"send lag p99 {measured['rtt_send_lag_p99']:.1f} ms ({seconds:.0f} s)",
        flush=True,
    )


def samples(settings: Settings) -> list[dict[str, Any]]:
    """One dict of keys per repetition; every service once per repetition, in alternating order."""
    names = selected(settings)
    plan = Plan(commands=settings.kafka_commands, rtt_seconds=settings.rtt_seconds)
    warmup = Plan(commands=settings.warmup_commands, rtt_seconds=min(2.0, settings.rtt_seconds))
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="onex-bench-kafka-") as tmp, NativeKafka() as kafka:
        if settings.warmup_commands:
            for name in WARMUP_SERVICES:
                started = time.monotonic()
                measured = asyncio.run(measure(name, kafka.bootstrap, warmup, Path(tmp)))
                _progress("warm-up (discarded)", name, measured, time.monotonic() - started)
        orders = alternating_orders(names, settings.repeats)
        for index, order in enumerate(orders):
            sample: dict[str, Any] = {"kafka_echo_commands": float(plan.commands)}
            for name in order:
                started = time.monotonic()
                measured = asyncio.run(measure(name, kafka.bootstrap, plan, Path(tmp)))
                _progress(f"[{index + 1}/{len(orders)}]", name, measured, time.monotonic() - started)
                sample.update(keys(name, measured))
            sample["machine"] = {"kafka_version": kafka.version}
            out.append(sample)
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """One repetition of every service (``make bench`` calls ``samples`` instead)."""
    from bench.settings import from_env

    settings = from_env(quick=quick)
    (sample,) = samples(Settings(1, settings.kafka_commands, settings.rtt_seconds, 0, settings.kafka_services))
    return sample
