"""Version 4 UUIDs for envelope ids, with the random bytes read 256 ids at a time.

``uuid.uuid4`` makes one ``getrandom`` system call per id. Every reply the
host builds gets a new ``envelope_id``, and under load that call alone was
6 % of the host's Kafka path in a py-spy profile (``bench/profiles/hot_path``;
its syscall cost is high on virtual machines). Reading 4 KiB from the same
source (``os.urandom``) and cutting it into ids keeps their quality (the same
kernel CSPRNG, 122 random bits each) and makes the call once per 256 ids.

A forked child must not hand out ids its parent already holds: the buffer is
emptied in the child at fork (``os.register_at_fork``), so both read fresh bytes.
"""

from __future__ import annotations

import os
from uuid import UUID

BATCH = 256

_VERSION_BITS = (0x4 << 76) | (0x2 << 62)
"""Version 4 (bits 76-79) and the RFC 4122 variant (10 in bits 62-63), what ``uuid.uuid4`` sets."""
_RANDOM_BITS = ((1 << 128) - 1) & ~((0xF << 76) | (0x3 << 62))

_pending: list[int] = []


def uuid4() -> UUID:
    """A random (version 4) UUID, as ``uuid.uuid4`` makes, from the batch (see the module docstring)."""
    if not _pending:
        block = os.urandom(16 * BATCH)
        _pending.extend(
            (int.from_bytes(block[start : start + 16], "big") & _RANDOM_BITS) | _VERSION_BITS
            for start in range(0, len(block), 16)
        )
    return UUID(int=_pending.pop())


def _forget_in_child() -> None:
    _pending.clear()


os.register_at_fork(after_in_child=_forget_in_child)
