"""Every Kafka tool error gets its exit code in ``main``, as one ``error:`` line and no traceback.

The brokers are made to fail where the tools first touch them (the clients'
``start``), so each tool's own placement of ``map_kafka_errors`` is exercised,
not just the mapping table.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    AuthenticationFailedError,
    GroupAuthorizationFailedError,
    GroupCoordinatorNotAvailableError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NoBrokersAvailable,
    NodeNotReadyError,
    RequestTimedOutError,
    TopicAuthorizationFailedError,
)

from onex_host.cli import dlq, main, offsets, tool_exit_code
from onex_host.infra.kafka_tools.errors import (
    BadToolInputError,
    BrokerUnreachableError,
    KafkaToolError,
    ToolRefusedError,
    UnknownTopicError,
)
from onex_host.infra.kafka_tools.handover import HandoverRefusedError

BROKERS = "127.0.0.1:1"
TOOLS = {
    "dlq redrive": ["dlq", "redrive", "--from", "t.dlq"],
    "shadow-diff": ["shadow-diff", "--legacy-topic", "a", "--shadow-topic", "b", "--duration", "1"],
    "offsets handover": ["offsets", "handover", "--from-group", "a", "--to-group", "b", "--topic", "t"],
}
CANNOT_CONNECT = [KafkaConnectionError, NoBrokersAvailable, NodeNotReadyError, KafkaTimeoutError, RequestTimedOutError]
FAILED_REQUEST = [
    GroupCoordinatorNotAvailableError,
    TopicAuthorizationFailedError,
    GroupAuthorizationFailedError,
    AuthenticationFailedError,
    KafkaError,
]


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def _brokers_fail_with(monkeypatch: pytest.MonkeyPatch, error: KafkaError) -> None:
    async def start(self: Any) -> None:
        raise error

    monkeypatch.setattr(AIOKafkaConsumer, "start", start)
    monkeypatch.setattr(AIOKafkaAdminClient, "start", start)


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("error", CANNOT_CONNECT)
def test_brokers_that_do_not_answer_exit_3(
    tool: str, error: type[KafkaError], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raised = error("no answer")
    _brokers_fail_with(monkeypatch, raised)
    assert main([*TOOLS[tool], "--bootstrap-servers", BROKERS]) == 3
    assert _one_error_line(capsys) == f"error: cannot reach the Kafka brokers at {BROKERS}: {raised}"


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("error", FAILED_REQUEST)
def test_brokers_that_answer_with_an_error_exit_3(
    tool: str, error: type[KafkaError], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raised = error("refused")
    _brokers_fail_with(monkeypatch, raised)
    assert main([*TOOLS[tool], "--bootstrap-servers", BROKERS]) == 3
    assert _one_error_line(capsys) == f"error: the Kafka brokers at {BROKERS} failed the request: {raised}"


DEAD_LETTER_TOPIC_MISSING = UnknownTopicError("t.dlq", role="dead-letter topic")


@pytest.mark.parametrize(
    ("module", "function", "error", "code", "line"),
    [
        (
            dlq,
            "redrive_dead_letters",
            DEAD_LETTER_TOPIC_MISSING,
            2,
            "error: --from: dead-letter topic 't.dlq' does not exist",
        ),
        (
            offsets,
            "plan_handover",
            HandoverRefusedError("group 'a' is busy"),
            1,
            "error: handover refused: group 'a' is busy",
        ),
        (
            offsets,
            "plan_handover",
            BrokerUnreachableError("describing group failed"),
            3,
            "error: describing group failed",
        ),
    ],
)
def test_each_kind_of_tool_error_has_its_exit_code(
    module: Any,
    function: str,
    error: KafkaToolError,
    code: int,
    line: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def fails(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(module, function, fails)
    argv = TOOLS["dlq redrive"] if module is dlq else TOOLS["offsets handover"]
    assert main([*argv, "--bootstrap-servers", BROKERS]) == code
    assert _one_error_line(capsys) == line


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (BadToolInputError("x"), 2),
        (UnknownTopicError("t"), 2),
        (BrokerUnreachableError("x"), 3),
        (ToolRefusedError("x"), 1),
        (HandoverRefusedError("x"), 1),
        (KafkaToolError("a kind main does not know yet"), 1),
    ],
)
def test_the_exit_code_follows_the_kind(error: KafkaToolError, code: int) -> None:
    assert tool_exit_code(error) == code


def test_a_bug_in_a_tool_is_not_hidden_as_a_tool_error(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError

    monkeypatch.setattr(offsets, "plan_handover", broken)
    with pytest.raises(ZeroDivisionError):
        main([*TOOLS["offsets handover"], "--bootstrap-servers", BROKERS])
