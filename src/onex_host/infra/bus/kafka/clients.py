"""Building, starting and stopping the aiokafka clients, and the one backoff every retry here uses.

The consumer and producer settings live here, beside each other, because
they are one design: manual commits with ``read_committed`` on one side,
idempotent ``acks=all`` on the other, is what makes the bus at-least-once.
Every Kafka wait in the bus (connecting, polling after an error, producing
until acknowledged) backs off with ``backoff`` through tenacity, so the
pauses are the same everywhere and tuned in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import errors as Errors
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception,
    retry_if_exception_type,
    stop_before_delay,
)
from tenacity.wait import wait_base, wait_exponential

from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.bus.kafka.partitioner import Murmur2Partitioner

logger = logging.getLogger(__name__)

REQUEST_HEADROOM_BYTES = 64 * 1024
"""Room for the record batch framing above the largest record the bus may produce."""


class KafkaUnavailableError(ConnectionError):
    """The brokers could not be reached within ``startup_timeout_seconds``."""


class KafkaAuthenticationError(KafkaUnavailableError):
    """The brokers refused the SASL credentials: retrying cannot help until the secret is fixed."""


_AUTH_ERRORS = (
    Errors.SaslAuthenticationFailed,
    Errors.AuthenticationFailedError,
    Errors.UnsupportedSaslMechanismError,
    Errors.IllegalSaslStateError,
    Errors.AuthenticationMethodNotSupported,
)


async def authentication_problem(config: KafkaBusConfig) -> str | None:
    """Why the brokers refuse this config's SASL credentials, or ``None`` (no SASL, accepted, or unreachable).

    aiokafka's bootstrap logs an authentication failure and raises a generic
    "unable to bootstrap", so a wrong password looks like an outage and is
    retried; one direct connection tells the two apart.
    """
    if config.sasl is None:
        return None
    host, _, port = config.bootstrap_servers[0].rpartition(":")
    settings = config.client_settings()
    try:
        conn = await asyncio.wait_for(
            create_conn(
                host,
                int(port),
                client_id=config.client_id,
                request_timeout_ms=config.request_timeout_ms,
                ssl_context=settings.get("ssl_context"),
                security_protocol=settings["security_protocol"],
                sasl_mechanism=settings["sasl_mechanism"],
                sasl_plain_username=settings["sasl_plain_username"],
                sasl_plain_password=settings["sasl_plain_password"],
            ),
            config.request_timeout_ms / 1000,
        )
    except _AUTH_ERRORS as exc:
        return f"{type(exc).__name__} for user {config.sasl.username!r} ({config.sasl.mechanism})"
    except (OSError, KafkaError, TimeoutError):
        return None
    conn.close()
    return None


class StartableClient(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


ClientT = TypeVar("ClientT", bound=StartableClient)
T = TypeVar("T")


def backoff(start: float = 0.2, cap: float = 5.0) -> wait_base:
    """Pauses that double from ``start`` up to ``cap``: short for a blip, bounded for an outage."""
    return wait_exponential(multiplier=start, min=start, max=cap)


def backoff_delay(attempt: int, start: float = 0.2, cap: float = 5.0) -> float:
    """The pause before retry number ``attempt`` (1-based) of a loop that keeps its own count: ``backoff``'s curve."""
    return float(min(start * 2 ** min(attempt - 1, 30), cap))


async def retry_after_failure(
    call: Callable[[], Awaitable[T]],
    failure: BaseException,
    *,
    worth_retrying: Callable[[BaseException], bool],
    log: Callable[[BaseException | None], None],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    start: float = 0.2,
    cap: float = 5.0,
) -> T:
    """Wait out ``failure`` of the caller's first ``call``: pause, call again, each pause twice the last up to ``cap``.

    Ends when ``call`` returns, or raises what ``worth_retrying`` refuses (or
    ``sleep`` raises, to give up early). The first attempt is the caller's, made
    without a retry state: building one costs ~20 µs, and the hot paths
    (every reply, every poll) almost never fail.
    """
    log(failure)
    await sleep(start)
    retrying = AsyncRetrying(
        retry=retry_if_exception(worth_retrying),
        wait=backoff(start * 2, cap),
        sleep=sleep,
        before_sleep=lambda state: log(state.outcome.exception() if state.outcome else None),
        reraise=True,
    )
    return await retrying(call)


def new_consumer(config: KafkaBusConfig, listener: ConsumerRebalanceListener) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        **config.client_settings(),
        group_id=config.effective_consumer_group,
        enable_auto_commit=False,
        auto_offset_reset=config.auto_offset_reset,
        max_poll_interval_ms=config.max_poll_interval_ms,
        session_timeout_ms=config.session_timeout_ms,
        heartbeat_interval_ms=config.heartbeat_interval_ms,
        rebalance_timeout_ms=config.max_poll_interval_ms,
        isolation_level="read_committed",
    )
    consumer.subscribe([config.command_topic], listener=listener)
    return consumer


def new_producer(config: KafkaBusConfig, *, transactional_id: str | None = None) -> AIOKafkaProducer:
    """The shared idempotent producer, or (``transactional_id``) one partition's exactly-once producer."""
    transactional: dict[str, Any] = {}
    if transactional_id is not None:
        transactional = {
            "transactional_id": transactional_id,
            "transaction_timeout_ms": config.transaction_timeout_ms,
        }
    return AIOKafkaProducer(
        **config.client_settings(),
        **transactional,
        acks="all",
        enable_idempotence=True,
        linger_ms=0 if transactional_id is not None else 2,
        # Replies are ~1 KiB and up to max_concurrent_operations await their ack at
        # once; aiokafka's 16 KiB default batch makes most of them queue for a drain.
        max_batch_size=config.producer_batch_bytes,
        max_request_size=max(config.max_message_bytes, 1_048_576) + REQUEST_HEADROOM_BYTES,
        partitioner=Murmur2Partitioner(),  # aiokafka's default partitions, at a fraction of the cost
    )


async def start_client(build: Callable[[], ClientT], config: KafkaBusConfig, what: str) -> ClientT:
    """Start a fresh client per attempt until it connects; ``KafkaUnavailableError`` after ``startup_timeout_seconds``.

    A fresh client each time because an aiokafka client whose ``start`` failed
    cannot be started again.
    """

    async def attempt() -> ClientT:
        client = build()
        try:
            await client.start()
        except KafkaError:
            with contextlib.suppress(Exception):
                await client.stop()
            raise
        return client

    def log_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        logger.warning("kafka %s not connected yet; retrying", what, extra={"error": repr(error)})

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(KafkaError),
        wait=backoff(start=0.5),
        stop=stop_before_delay(config.startup_timeout_seconds),
        before_sleep=log_retry,
    )
    try:
        try:
            return await attempt()
        except KafkaError:
            problem = await authentication_problem(config)
            if problem is not None:
                raise KafkaAuthenticationError(
                    f"kafka {what}: the brokers refused the credentials: {problem}"
                ) from None
        return await retrying(attempt)
    except RetryError as exc:
        servers = ",".join(config.bootstrap_servers)
        raise KafkaUnavailableError(
            f"kafka {what} could not connect to {servers} within {config.startup_timeout_seconds:g}s: "
            f"{exc.last_attempt.exception()}"
        ) from None


async def stop_within(step: Awaitable[Any], within: float, what: str) -> None:
    """Await a client's shutdown step for at most ``within`` seconds; a failure is logged, never raised.

    Shutdown must go on to the next client whatever this one does.
    """
    try:
        await asyncio.wait_for(step, within)
    except (TimeoutError, KafkaError) as exc:
        logger.warning("kafka bus %s did not finish cleanly", what, extra={"error": repr(exc)})


async def create_missing_topics(config: KafkaBusConfig) -> list[str]:
    """Create this host's command, reply and dead-letter topics that do not exist yet; the names created.

    Only called when the contract says ``create_missing_topics: true``: the
    brokers auto-create nothing, so a stack started from nothing needs its
    topics made by someone, and the host is told to, explicitly.
    """
    wanted = [config.command_topic, config.reply_topic, config.effective_dead_letter_topic]
    admin = AIOKafkaAdminClient(**config.client_settings())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in dict.fromkeys(wanted) if name not in existing]
        if missing:
            new = [
                NewTopic(
                    name,
                    num_partitions=config.create_topic_partitions,
                    replication_factor=config.create_topic_replication_factor,
                )
                for name in missing
            ]
            with contextlib.suppress(Errors.TopicAlreadyExistsError):  # another host of the group was first
                await admin.create_topics(new)
        return missing
    finally:
        await admin.close()
