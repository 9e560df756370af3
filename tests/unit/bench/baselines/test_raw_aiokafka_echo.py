"""The bounded raw loop: never more replies in flight than its bound, never a commit past an unacknowledged reply."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import TopicPartition
from bench.baselines.raw_aiokafka_echo import _bounded

TOPIC = "cmd"


@dataclass
class Record:
    partition: int
    offset: int
    key: bytes
    value: bytes


@dataclass
class FakeConsumer:
    """Hands out prepared fetches, then empty ones; records every commit."""

    fetches: list[dict[TopicPartition, list[Record]]]
    stopping: asyncio.Event
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)
    on_commit: Any = None

    async def getmany(self, timeout_ms: int) -> dict[TopicPartition, list[Record]]:
        await asyncio.sleep(0)
        if self.fetches:
            return self.fetches.pop(0)
        self.stopping.set()
        return {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.on_commit(offsets)
        self.commits.append(offsets)


@dataclass
class FakeProducer:
    """Acknowledges each send after a random delay, so acknowledgements arrive out of order."""

    rng: random.Random
    in_flight: int = 0
    most_in_flight: int = 0
    acked: set[tuple[int, int]] = field(default_factory=set)

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[None]:
        command = json.loads(value)
        reply_to = (command["partition"], command["offset"])
        assert command["correlation_id"] == key.decode()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)

        def ack() -> None:
            self.in_flight -= 1
            self.acked.add(reply_to)
            future.set_result(None)

        asyncio.get_running_loop().call_later(self.rng.uniform(0, 0.003), ack)
        return future


def fetches(partitions: int, per_partition: int, fetch_size: int) -> list[dict[TopicPartition, list[Record]]]:
    records = {
        p: [Record(p, o, f"c-{p}-{o}".encode(), json.dumps(_command(p, o)).encode()) for o in range(per_partition)]
        for p in range(partitions)
    }
    out = []
    for start in range(0, per_partition, fetch_size):
        out.append({TopicPartition(TOPIC, p): records[p][start : start + fetch_size] for p in range(partitions)})
    return out


def _command(partition: int, offset: int) -> dict[str, Any]:
    return {"correlation_id": f"c-{partition}-{offset}", "partition": partition, "offset": offset}


@pytest.fixture(autouse=True)
def reply_carries_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake producer needs to know which command a reply answers: echo the whole command back."""
    monkeypatch.setattr("bench.baselines.raw_aiokafka_echo.echo_reply", lambda command: command)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("bound", [1, 7, 64])
async def test_bound_holds_and_commits_never_pass_an_unacknowledged_reply(seed: int, bound: int) -> None:
    stopping = asyncio.Event()
    producer = FakeProducer(random.Random(seed))
    consumer = FakeConsumer(fetches(partitions=3, per_partition=120, fetch_size=50), stopping)

    def check(offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            unacked = [o for o in range(offset) if (tp.partition, o) not in producer.acked]
            assert not unacked, f"committed {tp} at {offset} with replies to {unacked[:5]} unacknowledged"

    consumer.on_commit = check
    await _bounded(consumer, producer, "evt", 0.0, stopping, bound)  # type: ignore[arg-type]

    assert producer.most_in_flight <= bound
    assert producer.most_in_flight == bound, "the loop should use its whole bound under a backlog"
    final = {tp: offset for commit in consumer.commits for tp, offset in commit.items()}
    assert final == {TopicPartition(TOPIC, p): 120 for p in range(3)}, "every answered record ends committed"
