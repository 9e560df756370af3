"""Interleaved batches: every side gets its count, warm-up is untimed, sides take turns leading."""

from __future__ import annotations

import asyncio

from bench.workloads._interleave import Call, interleaved, round_order


def test_round_order_rotates_so_each_side_leads_in_turn() -> None:
    names = ["a", "b", "c"]
    assert [round_order(names, r) for r in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]


def test_round_order_of_no_sides_is_empty() -> None:
    assert round_order([], 3) == []


async def test_sides_alternate_in_batches_after_an_untimed_warmup() -> None:
    calls: list[tuple[str, int]] = []

    def side(name: str) -> Call:
        async def call(i: int) -> object:
            calls.append((name, i))
            return None

        return call

    latencies = await interleaved({"a": side("a"), "b": side("b")}, warmup=2, rounds=3, batch=2)

    assert {name: len(samples) for name, samples in latencies.items()} == {"a": 6, "b": 6}
    warmup = [*"aabb"]
    rounds = [*"aabb", *"bbaa", *"aabb"]  # round 2 leads with b
    assert [name for name, _ in calls] == warmup + rounds
    assert [i for _, i in calls] == list(range(16)), "request numbers run on across sides and rounds"


async def test_latencies_are_milliseconds_of_each_awaited_call() -> None:
    async def slow(_: int) -> object:
        await asyncio.sleep(0.02)
        return None

    async def fast(_: int) -> object:
        return None

    latencies = await interleaved({"slow": slow, "fast": fast}, warmup=0, rounds=2, batch=2)

    assert all(15 <= ms < 500 for ms in latencies["slow"])
    assert all(0 <= ms < 15 for ms in latencies["fast"])
