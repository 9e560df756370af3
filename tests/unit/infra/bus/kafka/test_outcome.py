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
    DeadLetterUndelivered,
    DeliveryFailure,
    Outcome,
    OutcomeRules,
    PublishReply,
    Replied,
    ReplyToRefused,
    ReplyUndelivered,
    RetryAfter,
    Undecodable,
    decide,
    is_retryable,
)
from tests.support.builders.factories import command
from tests.support.builders.kafka_bus import bus_config

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


# -- reply destinations are allowed, not chosen ----------------------------------------------


def contract_rules(**allowed: list[str]) -> OutcomeRules:
    return OutcomeRules.from_config(bus_config("127.0.0.1:1", "t.out", **allowed))


@pytest.mark.parametrize(
    ("reply_to", "problem"),
    [
        ("caller.private", "not among the topics this host's contract allows"),
        ("bad topic!", "holds characters other than"),
        ("x" * 250, "longer than 249"),
        ("..", "'.' or '..'"),
        ("t.out.cmd", "command or dead-letter topic"),
        ("t.out.cmd.dlq", "command or dead-letter topic"),
    ],
)
def test_a_reply_to_the_contract_does_not_allow_is_refused_with_its_reason(reply_to: str, problem: str) -> None:
    route = contract_rules(allowed_reply_topics=["t.out.cmd", "t.out.cmd.dlq"]).route(
        command(metadata={"reply_to": reply_to})
    )
    assert route.topic == "t.out.evt"
    assert route.refused is not None
    assert problem in route.refused


def test_no_reply_to_is_allowed_by_default_and_listed_names_and_prefixes_are() -> None:
    assert contract_rules().route(command(metadata={"reply_to": "caller.a"})).refused is not None
    allowing = contract_rules(allowed_reply_topics=["caller.a"], allowed_reply_topic_prefixes=["tenant."])
    for allowed in ("caller.a", "tenant.x.replies"):
        route = allowing.route(command(metadata={"reply_to": allowed}))
        assert (route.topic, route.refused) == (allowed, None)
    assert allowing.route(command(metadata={"reply_to": "caller.ab"})).refused is not None
    assert allowing.route(command()).refused is None


def test_a_refused_reply_to_is_dead_lettered_unrun_and_answered_on_the_own_topic() -> None:
    request = command(metadata={"reply_to": "elsewhere"})
    action = decide(ReplyToRefused(request, "not allowed"), 0, rules(), now=NOW)
    assert (action.reason, action.detail, action.attempts) == (DeadLetterReason.REPLY_REFUSED, "not allowed", 0)
    assert action.reply is not None
    assert action.reply.topic == "replies"
    assert (action.reply.reply.error_code, action.reply.reply.correlation_id) == (
        EnumErrorCode.FORBIDDEN,
        request.correlation_id,
    )


@pytest.mark.parametrize("failure", list(DeliveryFailure))
def test_a_reply_to_topic_the_broker_refuses_is_dead_lettered_and_answered_on_the_own_topic(
    failure: DeliveryFailure,
) -> None:
    request = command(metadata={"reply_to": "caller.gone"})
    publish = PublishReply(request, request.reply_success(), "caller.gone")
    action = decide(ReplyUndelivered(publish, failure, "UnknownTopicOrPartitionError"), 1, rules(), now=NOW)
    assert action.reason is DeadLetterReason.REPLY_REFUSED
    assert "caller.gone" in action.detail
    assert action.reply is not None
    assert action.reply.topic == "replies"
    assert action.reply.reply.error_code is EnumErrorCode.FORBIDDEN


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (DeliveryFailure.TOPIC_REFUSED, DeadLetterReason.REPLY_UNDELIVERABLE),
        (DeliveryFailure.TOO_LARGE, DeadLetterReason.INTERNAL_ERROR),
        (DeliveryFailure.UNEXPECTED, DeadLetterReason.INTERNAL_ERROR),
    ],
)
def test_a_reply_the_own_topic_refuses_is_dead_lettered_without_another_reply(
    failure: DeliveryFailure, reason: DeadLetterReason
) -> None:
    request = command()
    publish = PublishReply(request, request.reply_success(), "replies")
    action = decide(ReplyUndelivered(publish, failure, "SomeError"), 1, rules(), now=NOW)
    assert (action.reason, action.reply) == (reason, None)


def test_a_dead_letter_that_could_not_be_stored_is_tried_again_with_growing_pauses() -> None:
    delays = [
        decide(DeadLetterUndelivered(DeliveryFailure.TOPIC_REFUSED, "x"), n, rules(), now=NOW) for n in (1, 2, 20)
    ]
    assert all(isinstance(d, RetryAfter) for d in delays)
    assert delays[0].delay_seconds < delays[1].delay_seconds <= delays[2].delay_seconds <= 30


def every_outcome() -> list[Outcome]:
    request = command(metadata={"reply_to": "caller"})
    outcomes: list[Outcome] = [Replied(request, request.reply_success())]
    outcomes += [Replied(request, error(request, code)) for code in EnumErrorCode]
    outcomes += [Undecodable(DecodeFailure(reason, "d")) for reason in DeadLetterReason]
    outcomes += [Undecodable(DecodeFailure(reason, "d", request)) for reason in DeadLetterReason]
    outcomes.append(ReplyToRefused(request, "not allowed"))
    for failure in DeliveryFailure:
        for topic in ("caller", "replies"):
            outcomes.append(ReplyUndelivered(PublishReply(request, request.reply_success(), topic), failure, "E"))
        outcomes.append(DeadLetterUndelivered(failure, "E"))
    return outcomes


@pytest.mark.parametrize("attempt", [0, 1, 3, 50])
def test_no_outcome_ends_with_neither_a_reply_nor_a_dead_letter(attempt: int) -> None:
    # The invariant: each action is a reply, a dead letter (with a reason), or a retry of a record still held.
    for outcome in every_outcome():
        action = decide(outcome, max(attempt, 1) if isinstance(outcome, Replied) else attempt, rules(), now=NOW)
        assert isinstance(action, PublishReply | RetryAfter | DeadLetter), outcome
        if isinstance(action, DeadLetter):
            assert isinstance(action.reason, DeadLetterReason)
        if isinstance(action, PublishReply | DeadLetter) and (reply := _reply_of(action)) is not None:
            assert reply.topic in {"replies", "caller"}


def _reply_of(action: PublishReply | DeadLetter) -> PublishReply | None:
    return action if isinstance(action, PublishReply) else action.reply
