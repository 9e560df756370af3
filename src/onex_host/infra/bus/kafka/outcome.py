"""What becomes of a command once it has an outcome: publish its reply, retry it, or dead-letter it.

A pure function of (outcome, attempt, rules, now), no I/O, so every path a
command can take through the bus is decided here and unit-tested without a
broker; the processing code only carries the decision out.

The rules, in order:

* A record that is not a command (``Undecodable``) is dead-lettered with the
  codec's reason and, when its sender can be addressed, also answered with
  ``invalid_envelope``, so the caller does not wait for a timeout.
* A reply with a retryable error code is retried after the policy's delay
  while the policy allows another attempt and the request's TTL outlives the
  delay (an attempt that would only find the envelope expired is not made).
* A final reply with a retryable code is dead-lettered as ``handler_failed``;
  one whose code means "can never succeed as sent" (``POISON_ERROR_CODES``)
  is dead-lettered with that reason. Both are also answered: the dead letter
  is for the operator, the reply for the caller.
* Anything else is answered.

Replies go to the request's ``reply_to`` in primary mode, else to the bus's
reply topic (see ``onex_host.infra.bus.base.reply_destination``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import overload

from onex_host.core.enums import RETRYABLE_ERROR_CODES, EnumErrorCode
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.base import BusMode, reply_destination
from onex_host.infra.bus.kafka.codec import POISON_ERROR_CODES, DeadLetterReason, DecodeFailure
from onex_host.infra.bus.kafka.config import KafkaBusConfig, KafkaRetryPolicy

# -- outcomes: what happened to a record so far ------------------------------------------


@dataclass(frozen=True, slots=True)
class Replied:
    """The runtime answered ``request`` with ``reply`` (a callback that raised was already made a reply)."""

    request: ModelOnexEnvelope
    reply: ModelOnexEnvelope


@dataclass(frozen=True, slots=True)
class Undecodable:
    """The record's bytes are not a routable command."""

    failure: DecodeFailure


Outcome = Replied | Undecodable


# -- actions: what the bus must do next --------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishReply:
    """Publish ``reply`` to ``topic``; ``request`` is what it answers (the sender's fallbacks reply to it)."""

    request: ModelOnexEnvelope
    reply: ModelOnexEnvelope
    topic: str


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """Run the request again after ``delay_seconds`` (cut short if the partition is revoked)."""

    delay_seconds: float


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class OutcomeRules:
    """The parts of the bus config the decision depends on."""

    mode: BusMode
    reply_topic: str
    dead_letter_topic: str
    retry: KafkaRetryPolicy

    @classmethod
    def from_config(cls, config: KafkaBusConfig) -> OutcomeRules:
        return cls(
            mode=config.mode,
            reply_topic=config.reply_topic,
            dead_letter_topic=config.effective_dead_letter_topic,
            retry=config.retry,
        )

    def reply_to(self, request: ModelOnexEnvelope, reply: ModelOnexEnvelope) -> PublishReply:
        return PublishReply(request, reply, reply_destination(request, mode=self.mode, default=self.reply_topic))


@overload
def decide(outcome: Undecodable, attempt: int, rules: OutcomeRules, *, now: datetime) -> DeadLetter: ...


@overload
def decide(outcome: Replied, attempt: int, rules: OutcomeRules, *, now: datetime) -> Action: ...


def decide(outcome: Outcome, attempt: int, rules: OutcomeRules, *, now: datetime) -> Action:
    """The next step for a record after its ``attempt``-th run (1-based; 0 for a record never run)."""
    if isinstance(outcome, Undecodable):
        return _undecodable(outcome.failure, rules)
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
    answer = rules.reply_to(request, reply)
    if reason is None:
        return answer
    return DeadLetter(reason, reply.error or "", attempt, reply.error_code, answer)


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
