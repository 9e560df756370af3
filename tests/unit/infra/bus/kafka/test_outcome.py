"""Every outcome a command can have on the Kafka bus, decided without a broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from onex_host.core.enums import RETRYABLE_ERROR_CODES, EnumErrorCode, EnumHandlerType
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.infra.bus.kafka.codec import POISON_ERROR_CODES, DeadLetterReason, DecodeFailure
from onex_host.infra.bus.kafka.config import KafkaRetryPolicy
from onex_host.infra.bus.kafka.outcome import (
    DeadLetter,
    OutcomeRules,
    PublishReply,
    Replied,
    RetryAfter,
    Undecodable,
    decide,
    is_retryable,
)
from tests.support.builders.factories import command

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = KafkaRetryPolicy(max_attempts=3, initial_backoff_seconds=0.5, max_backoff_seconds=0.8)


def rules(mode: str = "primary") -> OutcomeRules:
    return OutcomeRules(
        mode=mode,  # type: ignore[arg-type]
        reply_topic="replies.shadow" if mode == "shadow" else "replies",
        dead_letter_topic="cmd.dlq",
        retry=POLICY,
    )


def error(request: ModelOnexEnvelope, code: EnumErrorCode, message: str = "it failed") -> ModelOnexEnvelope:
    return request.reply_error(code, message)


NOT_RETRYABLE_NOT_POISON = sorted(set(EnumErrorCode) - set(RETRYABLE_ERROR_CODES) - set(POISON_ERROR_CODES))


def test_a_success_is_published_to_the_reply_topic() -> None:
    request = command()
    reply = request.reply_success({"ok": True})
    assert decide(Replied(request, reply), 1, rules(), now=NOW) == PublishReply(request, reply, "replies")


@pytest.mark.parametrize("code", NOT_RETRYABLE_NOT_POISON)
def test_an_error_that_is_neither_retryable_nor_poison_is_only_answered(code: EnumErrorCode) -> None:
    request = command()
    reply = error(request, code)
    assert decide(Replied(request, reply), 1, rules(), now=NOW) == PublishReply(request, reply, "replies")


@pytest.mark.parametrize("code", sorted(RETRYABLE_ERROR_CODES))
def test_a_retryable_error_is_retried_with_the_policy_delays(code: EnumErrorCode) -> None:
    request = command()
    outcome = Replied(request, error(request, code))
    assert decide(outcome, 1, rules(), now=NOW) == RetryAfter(0.5)
    assert decide(outcome, 2, rules(), now=NOW) == RetryAfter(0.8)  # 1.0, capped


@pytest.mark.parametrize("code", sorted(RETRYABLE_ERROR_CODES))
def test_a_retryable_error_after_the_last_attempt_is_dead_lettered_and_answered(code: EnumErrorCode) -> None:
    request = command()
    reply = error(request, code, "db down")
    assert decide(Replied(request, reply), 3, rules(), now=NOW) == DeadLetter(
        DeadLetterReason.HANDLER_FAILED, "db down", 3, code, PublishReply(request, reply, "replies")
    )


@pytest.mark.parametrize(("code", "reason"), sorted(POISON_ERROR_CODES.items()))
def test_a_poison_error_is_dead_lettered_with_its_reason_at_once_and_answered(
    code: EnumErrorCode, reason: DeadLetterReason
) -> None:
    request = command()
    reply = error(request, code, "no such thing")
    assert decide(Replied(request, reply), 1, rules(), now=NOW) == DeadLetter(
        reason, "no such thing", 1, code, PublishReply(request, reply, "replies")
    )


def test_no_retry_is_made_that_would_only_find_the_envelope_expired() -> None:
    request = command(ttl_seconds=10, timestamp=NOW)
    outcome = Replied(request, error(request, EnumErrorCode.UPSTREAM_UNAVAILABLE))
    assert decide(outcome, 1, rules(), now=NOW + timedelta(seconds=9)) == RetryAfter(0.5)  # 1 s left > 0.5 s
    final = decide(outcome, 1, rules(), now=NOW + timedelta(seconds=9.5))  # 0.5 s left: not more than the delay
    assert isinstance(final, DeadLetter)
    assert (final.reason, final.attempts) == (DeadLetterReason.HANDLER_FAILED, 1)


def test_reply_to_is_honoured_in_primary_mode_only() -> None:
    request = command(metadata={"reply_to": "caller.private"})
    reply = request.reply_success()
    assert decide(Replied(request, reply), 1, rules(), now=NOW) == PublishReply(request, reply, "caller.private")
    shadow = decide(Replied(request, reply), 1, rules("shadow"), now=NOW)
    assert shadow == PublishReply(request, reply, "replies.shadow")


def test_an_empty_or_non_string_reply_to_falls_back_to_the_reply_topic() -> None:
    for reply_to in ("", 42):
        request = command(metadata={"reply_to": reply_to})
        action = decide(Replied(request, request.reply_success()), 1, rules(), now=NOW)
        assert isinstance(action, PublishReply)
        assert action.topic == "replies"


def test_an_undecodable_record_nobody_can_be_told_about_is_only_dead_lettered() -> None:
    failure = DecodeFailure(DeadLetterReason.NOT_JSON, "not UTF-8 JSON")
    assert decide(Undecodable(failure), 0, rules(), now=NOW) == DeadLetter(
        DeadLetterReason.NOT_JSON, "not UTF-8 JSON", attempts=0
    )


@pytest.mark.parametrize("mode", ["primary", "shadow"])
def test_an_undecodable_record_with_an_addressable_sender_is_dead_lettered_and_answered(mode: str) -> None:
    stand_in = ModelOnexEnvelope(
        source_node="caller", handler_type=EnumHandlerType.LOCAL, operation="echo", metadata={"reply_to": "mine"}
    )
    failure = DecodeFailure(DeadLetterReason.INVALID_ENVELOPE, "payload: not a mapping", stand_in)
    action = decide(Undecodable(failure), 0, rules(mode), now=NOW)
    assert (action.reason, action.detail, action.attempts, action.error_code) == (
        DeadLetterReason.INVALID_ENVELOPE,
        "payload: not a mapping",
        0,
        None,
    )
    assert action.reply is not None
    assert action.reply.request is stand_in
    assert action.reply.topic == ("mine" if mode == "primary" else "replies.shadow")
    reply = action.reply.reply
    assert (reply.success, reply.error_code, reply.correlation_id) == (
        False,
        EnumErrorCode.INVALID_ENVELOPE,
        stand_in.correlation_id,
    )
    assert reply.error == "invalid_envelope: payload: not a mapping"
    assert reply.payload == {"dead_letter_topic": "cmd.dlq"}


def test_only_failed_replies_with_a_retryable_code_are_retryable() -> None:
    request = command()
    assert is_retryable(error(request, EnumErrorCode.UPSTREAM_UNAVAILABLE))
    assert not is_retryable(error(request, EnumErrorCode.UPSTREAM_ERROR))
    assert not is_retryable(request.reply_success())
