"""The baselines' reply is the envelope the onex host sends for an echo command."""

from __future__ import annotations

import json

from bench.baselines._echo import argument_parser, echo_reply

from onex_host.core import EnumHandlerType, ModelOnexEnvelope


def test_echo_reply_is_a_valid_success_reply_to_the_command() -> None:
    command = ModelOnexEnvelope(
        source_node="bench",
        target_node="echo",
        handler_type=EnumHandlerType.LOCAL,
        operation="echo",
        payload={"data": "x" * 1024},
    )
    wire = json.dumps(echo_reply(json.loads(command.to_wire()))).encode()

    reply = ModelOnexEnvelope.from_wire(wire)
    expected = command.reply_success(command.payload)
    same = {"correlation_id", "causation_id", "source_node", "target_node", "handler_type", "operation", "payload"}
    assert reply.model_dump(include=same) == expected.model_dump(include=same)
    assert (reply.is_response, reply.success, reply.error) == (True, True, None)


def test_every_baseline_takes_the_same_topic_options() -> None:
    args = argument_parser(None).parse_args(
        ["--bootstrap", "127.0.0.1:1", "--command-topic", "c", "--response-topic", "r", "--group", "g"]
    )
    assert (args.bootstrap, args.command_topic, args.response_topic, args.group) == ("127.0.0.1:1", "c", "r", "g")
    assert args.commit_interval == 1.0
