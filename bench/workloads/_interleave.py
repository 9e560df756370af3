"""Sequential latency of several ways to do the same request, measured in interleaved batches.

Shared machines drift (another tenant, a GC, a CPU frequency step). Timing
all of side A and then all of side B would charge a drift to whichever side
ran at the time; alternating short batches, and rotating which side goes
first in each round, spreads it over every side equally.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

Call = Callable[[int], Awaitable[object]]
"""One request; the argument is a running request number (for varying arguments or pre-built envelopes)."""


def round_order(names: Sequence[str], round_index: int) -> list[str]:
    """The sides in the order they run in round ``round_index``: a rotation, so each side leads equally often."""
    if not names:
        return []
    shift = round_index % len(names)
    return [*names[shift:], *names[:shift]]


async def interleaved(sides: Mapping[str, Call], *, warmup: int, rounds: int, batch: int) -> dict[str, list[float]]:
    """Latency in milliseconds of every request of every side, ``rounds * batch`` each, after ``warmup`` each.

    Requests are sequential: each is awaited before the next starts, so a
    figure is one request's latency, never a queueing effect.
    """
    names = list(sides)
    counter = 0
    for name in names:  # connections, statement caches and code paths warm, untimed
        for _ in range(warmup):
            await sides[name](counter)
            counter += 1
    clock = time.perf_counter_ns
    latencies: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        for name in round_order(names, round_index):
            call, samples = sides[name], latencies[name]
            for _ in range(batch):
                started = clock()
                await call(counter)
                samples.append((clock() - started) / 1e6)
                counter += 1
    return latencies
