"""Envelope ids: version 4 UUIDs from batched random bytes, never repeated, never shared with a forked child."""

from __future__ import annotations

import multiprocessing
import uuid

from onex_host.core import ids
from onex_host.core.enums import EnumHandlerType
from onex_host.core.envelope import ModelOnexEnvelope


def test_ids_are_version_4_rfc_4122_uuids_across_several_batches() -> None:
    made = [ids.uuid4() for _ in range(3 * ids.BATCH + 7)]
    assert all(made_id.version == 4 and made_id.variant == uuid.RFC_4122 for made_id in made)
    assert len(set(made)) == len(made)
    assert all(uuid.UUID(str(made_id)) == made_id for made_id in made)


def test_every_random_bit_varies() -> None:
    # A mask that dropped a bit (or a slice that reused bytes) would pin it in every id.
    made = [ids.uuid4().int for _ in range(2 * ids.BATCH)]
    fixed_ones = ~0
    fixed_zeros = ~0
    for value in made:
        fixed_ones &= value
        fixed_zeros &= ~value
    pinned = (fixed_ones | fixed_zeros) & ((1 << 128) - 1)
    assert pinned == (0xF << 76) | (0x3 << 62)  # exactly the version and variant bits


def test_envelopes_get_their_ids_from_it() -> None:
    fields = ModelOnexEnvelope.model_fields
    assert fields["envelope_id"].default_factory is ids.uuid4
    assert fields["correlation_id"].default_factory is ids.uuid4
    request = ModelOnexEnvelope(source_node="a", handler_type=EnumHandlerType.LOCAL, operation="echo")
    assert request.reply_success().envelope_id != request.envelope_id


def _next_id(queue: multiprocessing.Queue[str]) -> None:
    queue.put(str(ids.uuid4()))


def test_a_forked_child_does_not_reuse_the_parents_buffered_ids() -> None:
    ids.uuid4()  # fill the buffer: the child must not inherit what is left of it
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = context.Queue()
    child = context.Process(target=_next_id, args=(queue,))
    child.start()
    from_child = queue.get(timeout=30)
    child.join(30)
    assert from_child != str(ids.uuid4())
