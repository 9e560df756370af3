"""aiokafka's exceptions enter the tools' error hierarchy in one place, with a message naming the brokers."""

from __future__ import annotations

import pytest
from aiokafka.errors import (
    AuthenticationFailedError,
    CommitFailedError,
    GroupAuthorizationFailedError,
    GroupCoordinatorNotAvailableError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NoBrokersAvailable,
    NodeNotReadyError,
    RequestTimedOutError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)

from onex_host.infra.kafka_tools.errors import (
    BadToolInputError,
    BrokerUnreachableError,
    KafkaToolError,
    ToolRefusedError,
    UnknownTopicError,
    map_kafka_errors,
)
from onex_host.infra.kafka_tools.handover import HandoverRefusedError

SETTINGS = {"bootstrap_servers": ["k1:9092", "k2:9092"]}
CANNOT_CONNECT = [KafkaConnectionError, NoBrokersAvailable, NodeNotReadyError, KafkaTimeoutError, RequestTimedOutError]
ANSWERED_WITH_AN_ERROR = [
    GroupCoordinatorNotAvailableError,
    TopicAuthorizationFailedError,
    GroupAuthorizationFailedError,
    AuthenticationFailedError,
    UnknownTopicOrPartitionError,
    CommitFailedError,
    KafkaError,
]


@pytest.mark.parametrize("error", CANNOT_CONNECT)
def test_no_answer_from_the_brokers_is_reported_as_unreachable(error: type[KafkaError]) -> None:
    raised = error("boom")
    with pytest.raises(BrokerUnreachableError) as caught, map_kafka_errors(SETTINGS):
        raise raised
    assert str(caught.value) == f"cannot reach the Kafka brokers at k1:9092,k2:9092: {raised}"
    assert error.__name__ in str(caught.value)
    assert caught.value.__cause__ is raised


@pytest.mark.parametrize("error", ANSWERED_WITH_AN_ERROR)
def test_an_error_answer_is_reported_as_a_failed_request(error: type[KafkaError]) -> None:
    raised = error("boom")
    with pytest.raises(BrokerUnreachableError) as caught, map_kafka_errors(SETTINGS):
        raise raised
    assert str(caught.value) == f"the Kafka brokers at k1:9092,k2:9092 failed the request: {raised}"
    assert error.__name__ in str(caught.value)


def test_brokers_given_as_one_string_are_named_as_given() -> None:
    with (
        pytest.raises(BrokerUnreachableError, match=r"^cannot reach the Kafka brokers at k:1: "),
        map_kafka_errors({"bootstrap_servers": "k:1"}),
    ):
        raise KafkaConnectionError("Unable to bootstrap")


@pytest.mark.parametrize(
    "error", [UnknownTopicError("t"), HandoverRefusedError("busy"), ValueError("a bug"), KeyboardInterrupt()]
)
def test_anything_but_an_aiokafka_error_passes_through_unchanged(error: BaseException) -> None:
    with pytest.raises(type(error)) as caught, map_kafka_errors(SETTINGS):
        raise error
    assert caught.value is error


def test_the_hierarchy_has_one_root() -> None:
    for kind in (BadToolInputError, BrokerUnreachableError, ToolRefusedError, UnknownTopicError, HandoverRefusedError):
        assert issubclass(kind, KafkaToolError)
    assert issubclass(UnknownTopicError, BadToolInputError)
    assert issubclass(HandoverRefusedError, ToolRefusedError)
    assert not issubclass(KafkaToolError, KafkaError)


def test_an_unknown_topic_names_its_role_and_the_option_once_the_cli_sets_it() -> None:
    error = UnknownTopicError("t.dlq", role="dead-letter topic")
    assert str(error) == "dead-letter topic 't.dlq' does not exist"
    assert error.topic == "t.dlq"
    error.option = "--from"
    assert str(error) == "--from: dead-letter topic 't.dlq' does not exist"


def test_a_handover_refusal_says_so_and_keeps_the_reason() -> None:
    error = HandoverRefusedError("group 'g' has 1 active member(s)")
    assert str(error) == "handover refused: group 'g' has 1 active member(s)"
    assert error.reason == "group 'g' has 1 active member(s)"
