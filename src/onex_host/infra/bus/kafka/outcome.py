"""What becomes of a command once it has an outcome: publish its reply, retry it, or dead-letter it.

A pure function of (outcome, attempt, rules, now), no I/O, so every path a
command can take through the bus is decided here and unit-tested without a
broker; the processing code only carries the decision out.

The invariant it serves: every record read from the command topic ends in
exactly one of (a) its reply published to an allowed topic, (b) a dead
letter carrying its reason, or (c) it is still owned and being retried. Its
offset becomes committable only after (a) or (b). No outcome maps to
"finished with neither".

The rules, in order:

* A record that is not a command (``Undecodable``) is dead-lettered with the
  codec's reason and, when its sender can be addressed, also answered with
  ``invalid_envelope``, so the caller does not wait for a timeout.
* A command whose ``reply_to`` the contract does not allow (``ReplyToRefused``)
  is not run: it is dead-lettered as ``reply_refused`` and answered with a
  ``forbidden`` error reply on the bus's own reply topic.
* A reply with a retryable error code is retried after the policy's delay
  while the policy allows another attempt and the request's TTL outlives the
  delay (an attempt that would only find the envelope expired is not made).
* A final reply with a retryable code is dead-lettered as ``handler_failed``;
  one whose code means "can never succeed as sent" (``POISON_ERROR_CODES``)
  is dead-lettered with that reason. Both are also answered: the dead letter
  is for the operator, the reply for the caller.
* A reply the broker finally refused (``ReplyUndelivered``: unknown topic,
  not authorised, invalid name, too large even as an error reply, an
  unclassified failure) is dead-lettered (``reply_refused`` when it was the
  request's ``reply_to``, with an error reply on the bus's own reply topic;
  ``reply_undeliverable`` or ``internal_error`` when it was the bus's own
  topic). Never an endless retry: one command cannot freeze its partition.
* A dead letter that could not be stored (``DeadLetterUndelivered``) is tried
  again after a growing delay while the partition is owned: without it the
  record has no end, so it must keep its offset uncommitted.
* Anything else is answered.

Replies go to the request's ``reply_to`` in primary mode when the contract
allows it, else to the bus's reply topic (see ``onex_host.infra.bus.base``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import overload

from onex_host.core.enums import RETRYABLE_ERROR_CODES, EnumErrorCode
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.immutable import immutable
from onex_host.infra.bus.base import BusMode, ReplyRoute, reply_destination
from onex_host.infra.bus.kafka.codec import POISON_ERROR_CODES, DeadLetterReason, DecodeFailure
from onex_host.infra.bus.kafka.config import KafkaBusConfig, KafkaRetryPolicy

# -- outcomes: what happened to a record so far ------------------------------------------


@immutable
class Replied:
    """The runtime answered ``request`` with ``reply`` (a callback that raised was already made a reply)."""

    request: ModelOnexEnvelope
    reply: ModelOnexEnvelope
    route: ReplyRoute | None = None
    """``rules.route(request)`` when the caller already asked it (to refuse a ``reply_to`` before the run)."""


@immutable
class Undecodable:
    """The record's bytes are not a routable command."""

    failure: DecodeFailure


@immutable
class ReplyToRefused:
    """The request names a ``reply_to`` the contract does not allow; it was not run."""

    request: ModelOnexEnvelope
    problem: str


class DeliveryFailure(StrEnum):
    """How the sender finally failed to deliver a record (mirrors ``sender.SendFailure`` minus lost ownership)."""

    TOPIC_REFUSED = "topic_refused"
    TOO_LARGE = "too_large"
    UNEXPECTED = "unexpected"


@immutable
class ReplyUndelivered:
    """``publish`` was refused for good; ``detail`` names the error class (never its text)."""

    publish: PublishReply
    failure: DeliveryFailure
    detail: str


@immutable
class DeadLetterUndelivered:
    """The dead letter could not be stored; the record is still ours and must not be committed."""

    failure: DeliveryFailure
    detail: str


Outcome = Replied | Undecodable | ReplyToRefused | ReplyUndelivered | DeadLetterUndelivered


# -- actions: what the bus must do next --------------------------------------------------


@immutable
class PublishReply:
    """Publish ``reply`` to ``topic``; ``request`` is what it answers (the sender's fallbacks reply to it)."""

    request: ModelOnexEnvelope
    reply: ModelOnexEnvelope
    topic: str


@immutable
class RetryAfter:
    """Run the request again after ``delay_seconds`` (cut short if the partition is revoked)."""

    delay_seconds: float


@immutable
class DeadLetter:
    """Store the original record on the dead-letter topic, then, if ``reply`` is set, publish it.

    The dead letter comes first: once the caller has its answer the record
    counts as done, so the evidence an operator redrives from must exist by then.
    """

    reason: DeadLetterReason
    detail: str
    attempts: int
    error_code: EnumErrorCode | None = None
    reply: PublishReply | None = None


Action = PublishReply | RetryAfter | DeadLetter


def _allow_any(_topic: str) -> str | None:
    return None


@immutable
class OutcomeRules:
    """The parts of the bus config the decision depends on."""

    mode: BusMode
    reply_topic: str
    dead_letter_topic: str
    retry: KafkaRetryPolicy
    refuse_reply_to: Callable[[str], str | None] = _allow_any
    """Why a ``reply_to`` topic may not be written (``KafkaBusConfig.reply_to_problem``), or ``None``."""

    @classmethod
    def from_config(cls, config: KafkaBusConfig) -> OutcomeRules:
        return cls(
            mode=config.mode,
            reply_topic=config.reply_topic,
            dead_letter_topic=config.effective_dead_letter_topic,
            retry=config.retry,
            refuse_reply_to=config.reply_to_problem,
        )

    def route(self, request: ModelOnexEnvelope) -> ReplyRoute:
        return reply_destination(request, mode=self.mode, default=self.reply_topic, refuse=self.refuse_reply_to)

    def reply_to(
        self, request: ModelOnexEnvelope, reply: ModelOnexEnvelope, route: ReplyRoute | None = None
    ) -> PublishReply:
        """Where ``reply`` goes; a refused ``reply_to`` falls back to the bus's reply topic (the caller checked it).

        ``route``: ``route(request)``, when the caller already has it.
        """
        return PublishReply(request, reply, (route if route is not None else self.route(request)).topic)

    def own_topic(self, request: ModelOnexEnvelope, reply: ModelOnexEnvelope) -> PublishReply:
        return PublishReply(request, reply, self.reply_topic)


@overload
def decide(outcome: Undecodable, attempt: int, rules: OutcomeRules, *, now: datetime) -> DeadLetter: ...


@overload
def decide(outcome: ReplyToRefused, attempt: int, rules: OutcomeRules, *, now: datetime) -> DeadLetter: ...


@overload
def decide(outcome: ReplyUndelivered, attempt: int, rules: OutcomeRules, *, now: datetime) -> DeadLetter: ...


@overload
def decide(outcome: DeadLetterUndelivered, attempt: int, rules: OutcomeRules, *, now: datetime) -> RetryAfter: ...


@overload
def decide(outcome: Replied, attempt: int, rules: OutcomeRules, *, now: datetime) -> Action: ...


def decide(outcome: Outcome, attempt: int, rules: OutcomeRules, *, now: datetime) -> Action:
    """The next step for a record after its ``attempt``-th run (1-based; 0 for a record never run).

    For ``DeadLetterUndelivered`` ``attempt`` counts the failed dead-letter sends.
    """
    if isinstance(outcome, Undecodable):
        return _undecodable(outcome.failure, rules)
    if isinstance(outcome, ReplyToRefused):
        return _reply_to_refused(outcome, rules)
    if isinstance(outcome, ReplyUndelivered):
        return _reply_undelivered(outcome, attempt, rules)
    if isinstance(outcome, DeadLetterUndelivered):
        return RetryAfter(DEAD_LETTER_RETRY.backoff_after(max(attempt, 1)))
    request, reply = outcome.request, outcome.reply
    retryable = is_retryable(reply)
    if retryable and rules.retry.allows_another_attempt(attempt):
        delay = rules.retry.backoff_after(attempt)
        remaining = request.remaining_seconds(now)
        if remaining is None or remaining > delay:
            return RetryAfter(delay)
    reason = DeadLetterReason.HANDLER_FAILED if retryable else None
    if reply.error_code is not None and reply.error_code in POISON_ERROR_CODES:
        reason = POISON_ERROR_CODES[reply.error_code]
    answer = rules.reply_to(request, reply, outcome.route)
    if reason is None:
        return answer
    return DeadLetter(reason, reply.error or "", attempt, reply.error_code, answer)


DEAD_LETTER_RETRY = KafkaRetryPolicy(max_attempts=100, initial_backoff_seconds=0.5, max_backoff_seconds=30.0)
"""Pauses between attempts to store a dead letter: the record waits, uncommitted, for the operator to fix the DLQ."""


def _reply_to_refused(outcome: ReplyToRefused, rules: OutcomeRules) -> DeadLetter:
    request = outcome.request
    reply = request.reply_error(
        EnumErrorCode.FORBIDDEN,
        f"reply_to refused: {outcome.problem}; the command was not run",
        {"dead_letter_topic": rules.dead_letter_topic},
    )
    return DeadLetter(
        DeadLetterReason.REPLY_REFUSED, outcome.problem, 0, EnumErrorCode.FORBIDDEN, rules.own_topic(request, reply)
    )


def _reply_undelivered(outcome: ReplyUndelivered, attempt: int, rules: OutcomeRules) -> DeadLetter:
    publish = outcome.publish
    request, topic = publish.request, publish.topic
    detail = f"reply to {topic!r} not delivered ({outcome.failure.value}: {outcome.detail})"
    error_code = publish.reply.error_code
    if topic != rules.reply_topic:
        # The request's reply_to (allowed by the contract) was refused by the broker: tell the caller on our topic.
        reply = request.reply_error(
            EnumErrorCode.FORBIDDEN, f"reply_to refused: {detail}", {"dead_letter_topic": rules.dead_letter_topic}
        )
        return DeadLetter(DeadLetterReason.REPLY_REFUSED, detail, attempt, error_code, rules.own_topic(request, reply))
    if outcome.failure is DeliveryFailure.TOPIC_REFUSED:
        return DeadLetter(DeadLetterReason.REPLY_UNDELIVERABLE, detail, attempt, error_code)
    return DeadLetter(DeadLetterReason.INTERNAL_ERROR, detail, attempt, error_code)


def _undecodable(failure: DecodeFailure, rules: OutcomeRules) -> DeadLetter:
    answer = None
    if failure.answerable is not None:
        reply = failure.answerable.reply_error(
            EnumErrorCode.INVALID_ENVELOPE,
            f"{failure.reason.value}: {failure.detail}",
            {"dead_letter_topic": rules.dead_letter_topic},
        )
        answer = rules.reply_to(failure.answerable, reply)
    return DeadLetter(failure.reason, failure.detail, attempts=0, reply=answer)


def is_retryable(reply: ModelOnexEnvelope) -> bool:
    return reply.success is False and reply.error_code in RETRYABLE_ERROR_CODES
