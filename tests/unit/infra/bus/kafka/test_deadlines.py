"""``CoarseDeadlines``: the one-timer bound on every send (what ``asyncio.timeout`` did per send)."""

from __future__ import annotations

import asyncio

import pytest

from onex_host.infra.bus.kafka.deadlines import CoarseDeadlines


async def test_a_wait_past_its_deadline_raises_timeout_error_and_cancels_what_it_awaited() -> None:
    deadlines = CoarseDeadlines(0.02, resolution=0.01)
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with pytest.raises(TimeoutError):
        await deadlines.bounded(never)
    assert never.cancelled()
    assert deadlines.in_progress == 0


async def test_waits_that_end_in_time_are_untouched_and_leave_no_timer_behind() -> None:
    deadlines = CoarseDeadlines(60, resolution=0.01)
    for _ in range(100):
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        await deadlines.bounded(done)
    assert deadlines.in_progress == 0
    await asyncio.sleep(0.03)  # the armed sweep runs once, finds nothing and is not armed again
    assert deadlines._timer is None


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    deadlines = CoarseDeadlines(60, resolution=0.01)
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(deadlines.bounded(never))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert deadlines.in_progress == 0


async def test_an_outside_cancellation_racing_the_deadline_is_not_swallowed_as_a_timeout() -> None:
    deadlines = CoarseDeadlines(0.02, resolution=0.01)
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(deadlines.bounded(never))
    await asyncio.sleep(0)
    (wait,) = deadlines._waits
    deadlines._sweep_at(wait.deadline)  # the deadline fires ...
    task.cancel()  # ... and the owner cancels the task in the same loop step
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_only_the_overrun_wait_of_many_is_cancelled() -> None:
    deadlines = CoarseDeadlines(0.05, resolution=0.01)
    loop = asyncio.get_running_loop()
    stuck: asyncio.Future[None] = loop.create_future()
    quick = [loop.create_future() for _ in range(5)]
    tasks = [asyncio.create_task(deadlines.bounded(future)) for future in [stuck, *quick]]
    await asyncio.sleep(0)
    for future in quick:
        future.set_result(None)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], TimeoutError)
    assert results[1:] == [None] * 5


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        CoarseDeadlines(0)
