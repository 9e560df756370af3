"""The one retry policy of the operator tools: retry what Kafka calls retriable, for a bounded time.

A tool asks the cluster a handful of questions and then acts, so a retry is
only worth it for answers that say "not yet" rather than "no": on a fresh
cluster the first group request answers *coordinator not available* while
``__consumer_offsets`` is being created, and a leader election answers *not
leader* for a moment. aiokafka marks exactly those errors ``retriable``.
Everything else is raised at once, and so is a retriable error that outlasts
the window: the caller (inside ``map_kafka_errors``) reports it as one line.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential

T = TypeVar("T")

RETRIABLE_WINDOW_S = 15.0
FIRST_DELAY_S = 0.2
MAX_DELAY_S = 1.0


def is_retriable(exc: BaseException) -> bool:
    return isinstance(exc, KafkaError) and exc.retriable


async def with_backoff(
    call: Callable[[], Awaitable[T]],
    *,
    within: float = RETRIABLE_WINDOW_S,
    first_delay: float = FIRST_DELAY_S,
    max_delay: float = MAX_DELAY_S,
) -> T:
    """``await call()``, again after a growing pause while it raises a retriable ``KafkaError``.

    ``call`` must be safe to repeat (a read, or a commit of the same offsets).
    No new attempt starts once ``within`` seconds have passed since the first;
    the last error is then raised as it was, not wrapped in tenacity's.
    """
    retrying = AsyncRetrying(
        retry=retry_if_exception(is_retriable),
        stop=stop_after_delay(within),
        wait=wait_exponential(multiplier=first_delay, min=first_delay, max=max_delay),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity either returns the result or re-raises")  # pragma: no cover
