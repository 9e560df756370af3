"""Cyclic garbage collector settings for a host that has started serving.

CPython's collector walks every tracked container of a generation when it
runs, and the oldest generation holds everything the host built at startup:
modules, pydantic schemas, contracts, clients (hundreds of thousands of
objects). With the default thresholds (700 allocations) a host answering
thousands of commands a second ran a young collection every few commands
and a full one every few seconds, each walking that startup heap again: in
``bench/profiles/hot_path.py`` about a quarter of the host's time per
command, and on real Kafka 10-20 % of its throughput (``bench/README.md``).

``settle_after_startup`` collects once, then freezes what survived (moved
to a permanent generation the collector never walks; the objects are still
freed by reference counting, only a cycle among them would stay) and raises
the young threshold, so the collector runs a few times a second over the
short-lived objects of the commands in flight. The hot path itself creates
no reference cycles (``dispatcher`` breaks the one a lane makes), so
nothing waits longer for its memory than it did.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Allocations between young collections: 14x CPython's 700, a few hundred kilobytes of young objects."""


def settle_after_startup() -> None:
    """Called once the host is serving: what exists now lives as long as the process."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
