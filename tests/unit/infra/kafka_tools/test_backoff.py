"""The tools' one retry policy: retriable Kafka answers are retried for a while, nothing else is."""

from __future__ import annotations

import time

import pytest
from aiokafka.errors import GroupCoordinatorNotAvailableError, KafkaError, TopicAuthorizationFailedError

from onex_host.infra.kafka_tools.backoff import with_backoff

FAST = {"first_delay": 0.01, "max_delay": 0.02}


class Flaky:
    """Raises ``errors`` in turn, then answers ``"done"``; counts the calls."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


async def test_a_retriable_answer_is_retried_until_the_call_succeeds() -> None:
    call = Flaky(GroupCoordinatorNotAvailableError(), GroupCoordinatorNotAvailableError())
    assert await with_backoff(call, within=5, **FAST) == "done"
    assert call.calls == 3


@pytest.mark.parametrize("error", [TopicAuthorizationFailedError(), KafkaError(), ValueError("a bug")])
async def test_anything_not_retriable_is_raised_at_once(error: BaseException) -> None:
    call = Flaky(error)
    with pytest.raises(type(error)) as caught:
        await with_backoff(call, within=5, **FAST)
    assert caught.value is error
    assert call.calls == 1


async def test_a_retriable_answer_that_outlasts_the_window_is_raised_as_it_was() -> None:
    call = Flaky(*(GroupCoordinatorNotAvailableError() for _ in range(1000)))
    started = time.monotonic()
    with pytest.raises(GroupCoordinatorNotAvailableError):
        await with_backoff(call, within=0.2, **FAST)
    assert 0.2 <= time.monotonic() - started < 2
    assert 2 < call.calls < 1000


async def test_the_pause_grows_up_to_its_cap() -> None:
    call = Flaky(*(GroupCoordinatorNotAvailableError() for _ in range(1000)))
    with pytest.raises(GroupCoordinatorNotAvailableError):
        await with_backoff(call, within=0.9, first_delay=0.02, max_delay=0.3)
    # pauses 0.02, 0.04, 0.08, 0.16, 0.3, 0.3: about seven attempts fit in 0.9 s, not the ~45 of a fixed pause
    assert 4 <= call.calls <= 12
