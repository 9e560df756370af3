"""What can go wrong in an operator tool, as one hierarchy the CLI maps to exit codes in one place.

Every failure an operator can cause or meet is a ``KafkaToolError`` whose
message is the one line the CLI prints; anything else escaping a tool is a bug
and keeps its traceback::

    KafkaToolError
    ├── BadToolInputError          exit 2: the request names something that cannot be used
    │   └── UnknownTopicError      a topic that does not exist (never auto-created)
    ├── BrokerUnreachableError     exit 3: the brokers cannot be reached, or fail the request
    └── ToolRefusedError           exit 1: going on could lose or replay work, so the tool stops
        └── HandoverRefusedError   (defined with the handover, which owns the reasons)

aiokafka's exceptions become ``BrokerUnreachableError`` only in
``map_kafka_errors``, the way httpx turns httpcore's exceptions into its own in
one context manager: a tool wraps its broker calls in it and never catches
``KafkaError`` itself, except where an error means something more specific
(a refused commit during a handover is a refusal, not an outage).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NoBrokersAvailable,
    NodeNotReadyError,
    RequestTimedOutError,
)


class KafkaToolError(Exception):
    """An operator tool could not do what was asked; ``str()`` is the whole story, in one line."""


class BadToolInputError(KafkaToolError):
    """What the operator named cannot be used; found only once the brokers answered.

    The tool does not know which command-line option named the thing; the CLI
    sets ``option`` so the line reads ``--from: dead-letter topic 'x' does not exist``.
    """

    option: str | None = None

    def __str__(self) -> str:
        message = super().__str__()
        return f"{self.option}: {message}" if self.option else message


class UnknownTopicError(BadToolInputError):
    def __init__(self, topic: str, *, role: str = "topic") -> None:
        super().__init__(f"{role} {topic!r} does not exist")
        self.topic = topic


class BrokerUnreachableError(KafkaToolError):
    """The brokers could not be reached or answered the request with an error; nothing was changed."""


class ToolRefusedError(KafkaToolError):
    """The cluster is not in a state where the tool can work safely; the message says what to do."""


_CANNOT_CONNECT: tuple[type[KafkaError], ...] = (
    KafkaConnectionError,
    NoBrokersAvailable,
    NodeNotReadyError,
    KafkaTimeoutError,
    RequestTimedOutError,
)
"""Errors that mean no broker answered in time, as opposed to one that answered with an error."""


def describe_servers(client_settings: Mapping[str, Any]) -> str:
    servers = client_settings.get("bootstrap_servers") or []
    return servers if isinstance(servers, str) else ",".join(servers)


@contextlib.contextmanager
def map_kafka_errors(client_settings: Mapping[str, Any]) -> Iterator[None]:
    """Turn aiokafka's exceptions raised inside the block into ``BrokerUnreachableError``.

    The message names the brokers (from ``client_settings``, as the clients
    were given them) and aiokafka's error (its ``str`` starts with the class),
    so an operator can tell a wrong address from a refused request. The
    aiokafka error stays the ``__cause__`` for a caller that debugs; the CLI
    prints only the message.
    """
    try:
        yield
    except _CANNOT_CONNECT as exc:
        raise BrokerUnreachableError(
            f"cannot reach the Kafka brokers at {describe_servers(client_settings)}: {exc}"
        ) from exc
    except KafkaError as exc:
        raise BrokerUnreachableError(
            f"the Kafka brokers at {describe_servers(client_settings)} failed the request: {exc}"
        ) from exc
