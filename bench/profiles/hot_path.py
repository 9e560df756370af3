"""In-process microbench of the host's Kafka path: consume -> route -> execute -> reply, at-least-once.

Everything but the two Kafka clients is the production code: ``RuntimeHostProcess.handle_envelope``
(metrics, the runtime, the local echo handler) behind a real ``KafkaEventBus`` (consume loop,
dispatcher, processing, outcome, sender, offsets, committer). The consumer is a stand-in that hands
out pre-encoded commands; the producer is a stand-in whose acknowledgements arrive in batches,
``--ack-ms`` after the first unacknowledged send (a broker's round trip with linger), as aiokafka's
do. The figure is CPU per command on one core: wall time over commands, the loop never idle-waits
except for acknowledgements.

    .venv/bin/python -m bench.profiles.hot_path --commands 20000 --ack-ms 2
    py-spy record -o out.svg -- .venv/bin/python -m bench.profiles.hot_path

Not a test and not part of ``make bench``: a tool for measuring one change against the previous one.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from tests.support.builders.kafka_host_contract import write_kafka_host

from onex_host.core import EnumHandlerType, ModelOnexEnvelope
from onex_host.core.file_registry import load_host
from onex_host.infra.bus.kafka.bus import KafkaEventBus
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.heap import settle_after_startup
from onex_host.infra.process import RuntimeHostProcess

PAYLOAD = {"data": "x" * 1024}
PARTITIONS = 6


class BatchAckProducer:
    """``send`` enqueues and returns a future; all pending futures resolve together ``ack_s`` later."""

    def __init__(self, ack_s: float) -> None:
        self._ack_s = ack_s
        self._pending: list[asyncio.Future[None]] = []
        self._timer: asyncio.TimerHandle | None = None
        self.acked = 0
        self.done = asyncio.Event()
        self.expect = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def _flush(self) -> None:
        self._timer = None
        pending, self._pending = self._pending, []
        for future in pending:
            if not future.done():
                future.set_result(None)
        self.acked += len(pending)
        if self.expect and self.acked >= self.expect:
            self.done.set()

    async def send(
        self, topic: str, value: bytes | None = None, key: bytes | None = None, headers: Any = None, **_: Any
    ) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(future)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._ack_s, self._flush)
        return future

    async def send_and_wait(
        self, topic: str, value: bytes | None = None, key: bytes | None = None, headers: Any = None, **_: Any
    ) -> None:
        await (await self.send(topic, value=value, key=key, headers=headers))


class ListConsumer:
    """Hands out ``records`` per partition from its position; assigns every partition on the first poll."""

    def __init__(self, records: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]], listener: Any) -> None:
        self._records = records
        self._listener = listener
        self._position = dict.fromkeys(records, 0)
        self._paused: set[TopicPartition] = set()
        self._assigned = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def assignment(self) -> set[TopicPartition]:
        return set(self._records) if self._assigned else set()

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def pause(self, *tps: TopicPartition) -> None:
        self._paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self._paused.difference_update(tps)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._position[tp] = offset

    async def committed(self, tp: TopicPartition) -> int | None:
        return None

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        return None

    def highwater(self, tp: TopicPartition) -> int:
        return len(self._records[tp])

    async def position(self, tp: TopicPartition) -> int:
        return self._position[tp]

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, list[Any]]:
        if not self._assigned:
            self._assigned = True
            await self._listener.on_partitions_assigned(set(self._records))
        budget = max_records or 1 << 30
        batches: dict[Any, list[Any]] = {}
        for tp, records in self._records.items():
            if tp in self._paused or budget <= 0:
                continue
            start = self._position[tp]
            taken = records[start : start + min(budget, 500)]
            if taken:
                batches[tp] = taken
                self._position[tp] = start + len(taken)
                budget -= len(taken)
        if not batches and timeout_ms:
            await asyncio.sleep(min(timeout_ms, 5) / 1000)
        return batches


def commands(count: int, keys: int | None, topic: str) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
    per: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {
        TopicPartition(topic, p): [] for p in range(PARTITIONS)
    }
    for i in range(count):
        envelope = ModelOnexEnvelope(
            source_node="bench",
            target_node="echo",
            handler_type=EnumHandlerType.LOCAL,
            operation="echo",
            payload=PAYLOAD,
        )
        key = (f"key-{i % keys}" if keys else str(envelope.correlation_id)).encode()
        tp = TopicPartition(topic, hash(key) % PARTITIONS)
        value = envelope.to_wire()
        per[tp].append(
            ConsumerRecord(topic, tp.partition, len(per[tp]), 0, 0, key, value, None, len(key), len(value), [])
        )
    return per


async def measure(count: int, ack_s: float, keys: int | None, workdir: Path) -> dict[str, float]:
    prefix = f"hp.{uuid.uuid4().hex[:6]}"
    config = KafkaBusConfig(
        bootstrap_servers=["127.0.0.1:1"],
        consumer_group=f"{prefix}.g",
        command_topic=f"{prefix}.cmd",
        response_topic=f"{prefix}.evt",
    )
    process = RuntimeHostProcess(load_host(write_kafka_host(workdir / prefix, config, mode="primary")))
    producer = BatchAckProducer(ack_s)
    producer.expect = count
    records = commands(count, keys, config.command_topic)
    bus = KafkaEventBus(
        config,
        max_concurrent=process.host.contract.max_concurrent_operations,
        metrics=process.metrics,
        build_consumer=lambda cfg, listener: ListConsumer(records, listener),  # type: ignore[arg-type,return-value]
        build_producer=lambda: producer,  # type: ignore[return-value]
    )
    await process.runtime.initialize()
    settle_after_startup()  # as ``onex-host run`` does once serving (``onex_host.infra.heap``)
    started, cpu = time.perf_counter(), time.process_time()
    await bus.start(process.handle_envelope)
    await asyncio.wait_for(producer.done.wait(), 600)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await bus.stop(5)
    await process.runtime.shutdown()
    return {"us_per_command": elapsed / count * 1e6, "cpu_us_per_command": cpu / count * 1e6, "per_s": count / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--ack-ms", type=float, default=2.0)
    parser.add_argument("--keys", type=int, default=0, help="distinct keys (0: one per command)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            runs.append(asyncio.run(measure(args.commands, args.ack_ms / 1000, args.keys or None, Path(tmp))))
    for name in runs[0]:
        values = [run[name] for run in runs]
        print(f"{name}: median {statistics.median(values):.1f} (runs: {', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
