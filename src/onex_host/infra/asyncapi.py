"""The AsyncAPI 3.0 document of a runtime host, generated from its contracts and the code.

What a node author may send is decided in three places, and this module reads
each of them instead of restating it, so the document cannot drift:

* the contracts (which nodes and operations the host serves, which handler
  runs each, which payload fields an operation pins);
* the handlers' ``@action`` declarations: each operation's payload schema is
  its action's pydantic model (``model_json_schema``), with the fields the
  contract pins removed, since an envelope that sets one is refused;
* the event bus config (topics, consumer group, mode, reply rules) and the
  Kafka bus's dead-letter headers (``infra.bus.kafka.codec``).

The document describes the host's side: it *receives* commands and *sends*
replies and dead letters. ``render_html`` turns it into one self-contained
page for a browser.
"""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from onex_host.core.contracts import ModelOperationSpec
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.file_registry import LoadedHost
from onex_host.infra.bus.factory import parse_event_bus_config
from onex_host.infra.bus.memory import COMMANDS, REPLIES
from onex_host.infra.wiring import HANDLER_REGISTRY

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
ENVELOPE_SCHEMA = "OnexEnvelope"
REPLY_MESSAGE = "reply"
DEAD_LETTER_MESSAGE = "deadLetter"

_COMPONENT_KEY = re.compile(r"[^A-Za-z0-9_.-]")

_ANY_OBJECT: dict[str, Any] = {
    "type": "object",
    "description": "Any JSON object: this action takes the payload as it is.",
}


@dataclass(frozen=True, slots=True)
class OperationSchema:
    """One node operation as the document shows it."""

    node: str
    operation: str
    handler: str
    action: str
    description: str
    side_effects: str
    pinned: tuple[str, ...]
    payload: dict[str, Any]

    @property
    def key(self) -> str:
        return component_key(f"{self.node}.{self.operation}")


def component_key(name: str) -> str:
    """A name usable as an AsyncAPI component or operation key (``^[A-Za-z0-9._-]+$``)."""
    return _COMPONENT_KEY.sub("_", name)


def _hoist_schema(model: type[BaseModel], prefix: str, components: dict[str, Any]) -> dict[str, Any]:
    """``model``'s JSON Schema with its ``$defs`` moved into ``components`` under ``prefix``.

    Pydantic's ``#/$defs/...`` references would resolve against the AsyncAPI
    document's root; rewritten to ``#/components/schemas/<prefix><Name>`` they
    resolve, and one model used by two operations is stored once.
    """
    schema = model.model_json_schema(ref_template=f"#/components/schemas/{prefix}{{model}}")
    for name, definition in schema.pop("$defs", {}).items():
        key = component_key(f"{prefix}{name}")
        known = components.get(key)
        if known is not None and known != definition:
            raise ValueError(f"two different schemas named {key!r}")  # a bug in a handler module, not user input
        components[key] = definition
    return schema


def operation_payload_schema(
    payload_model: type[BaseModel] | None,
    spec: ModelOperationSpec,
    contract_keys: frozenset[str],
    prefix: str,
    components: dict[str, Any],
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The payload an envelope may carry for one operation, and the pinned fields taken out of it."""
    pinned = tuple(sorted(key for key in spec.params if key not in contract_keys))
    if payload_model is None:
        return copy.deepcopy(_ANY_OBJECT), pinned
    schema = _hoist_schema(payload_model, prefix, components)
    names = set(pinned)
    for field_name, info in payload_model.model_fields.items():
        if info.alias in names:
            names.add(field_name)  # a pinned key named by alias removes the field in both spellings
    properties = schema.get("properties", {})
    for name in names:
        properties.pop(name, None)
    if "required" in schema:
        schema["required"] = [name for name in schema["required"] if name not in names]
        if not schema["required"]:
            del schema["required"]
    if pinned:
        schema["description"] = (
            schema.get("description", "")
            + f"\n\nFixed by the node contract, so an envelope must not set: {', '.join(pinned)}."
        ).strip()
    return schema, pinned


def node_operations(host: LoadedHost, components: dict[str, Any]) -> list[OperationSchema]:
    """Every operation of every enabled node, with its payload schema from the handler's declaration."""
    operations: list[OperationSchema] = []
    for node in host.nodes:
        for name, spec in sorted(node.contract.operations.items()):
            cls = HANDLER_REGISTRY[spec.handler_type]
            action = spec.action or name
            declared = cls.actions()[action]
            prefix = f"{spec.handler_type.value}."
            payload, pinned = operation_payload_schema(declared.payload, spec, cls.contract_keys, prefix, components)
            operations.append(
                OperationSchema(
                    node=node.slug,
                    operation=name,
                    handler=spec.handler_type.value,
                    action=action,
                    description=spec.description,
                    side_effects=spec.side_effects.value,
                    pinned=pinned,
                    payload=payload,
                )
            )
    return operations


# -- the bus ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BusTopology:
    kind: str
    mode: str
    command: str
    reply: str
    dead_letter: str | None
    consumer_group: str | None
    servers: tuple[str, ...]
    secure: bool
    reply_rules: str
    reply_allow_list: dict[str, list[str]]
    dead_letter_headers: dict[str, str]


def _reply_allow_lists(config: BaseModel) -> dict[str, list[str]]:
    """The bus config's reply-destination allow-lists (``allowed_reply_topics``, ``..._prefixes``)."""
    found: dict[str, list[str]] = {}
    for name in ("allowed_reply_topics", "allowed_reply_topic_prefixes"):
        value = getattr(config, name, None)
        if isinstance(value, list | tuple | frozenset | set):
            found[name] = sorted(str(item) for item in value)
    return found


def _reply_rules(mode: str, default: str, allow_lists: Mapping[str, list[str]]) -> str:
    if mode == "shadow":
        return (
            f"This host runs in shadow mode: every reply goes to `{default}`, whatever the request's "
            "`metadata.reply_to` says (that belongs to the primary deployment)."
        )
    if not allow_lists:
        return (
            f"A reply goes to the request's `metadata.reply_to` when it is a non-empty string, "
            f"otherwise to `{default}`."
        )
    topics = ", ".join(f"`{t}`" for t in allow_lists.get("allowed_reply_topics", [])) or "none"
    prefixes = ", ".join(f"`{t}`" for t in allow_lists.get("allowed_reply_topic_prefixes", [])) or "none"
    return (
        f"A reply goes to `{default}` unless the request's `metadata.reply_to` names a legal topic that the "
        f"bus config allows: `allowed_reply_topics` ({topics}) or a name starting with one of "
        f"`allowed_reply_topic_prefixes` ({prefixes}). Any other `reply_to` is refused: the command is not run, "
        f"a `forbidden` error reply goes to `{default}` and the command is dead-lettered with reason "
        "`reply_refused`."
    )


def _dead_letter_headers() -> dict[str, str]:
    from onex_host.infra.bus.kafka import codec
    from onex_host.infra.bus.kafka.sender import HEADER_VALUE_DROPPED

    reasons = ", ".join(reason.value for reason in codec.DeadLetterReason)
    return {
        codec.HEADER_REASON: f"Why the command was dead-lettered: one of {reasons}.",
        codec.HEADER_DETAIL: "What was wrong, in words (at most 1000 characters).",
        codec.HEADER_ERROR_CODE: "The error reply's code, when a reply was sent (optional).",
        codec.HEADER_ORIGIN_TOPIC: "The command topic the record was read from.",
        codec.HEADER_ORIGIN_PARTITION: "Its partition.",
        codec.HEADER_ORIGIN_OFFSET: "Its offset.",
        codec.HEADER_ATTEMPTS: "How many times it was run.",
        codec.HEADER_DEAD_LETTERED_AT: "When, as an ISO 8601 timestamp.",
        HEADER_VALUE_DROPPED: "Set when the original bytes were too large to keep: their size (optional).",
        codec.HEADER_REDRIVEN_FROM: "On a redriven command: the dead-letter topic it came back from (optional).",
    }


def bus_topology(host: LoadedHost) -> BusTopology:
    config = parse_event_bus_config(host.contract.event_bus, source=str(host.path))
    allow_lists = _reply_allow_lists(config)
    if host.contract.event_bus.type == "kafka":
        from onex_host.infra.bus.kafka.config import KafkaBusConfig

        assert isinstance(config, KafkaBusConfig)
        return BusTopology(
            kind="kafka",
            mode=config.mode,
            command=config.command_topic,
            reply=config.reply_topic,
            dead_letter=config.effective_dead_letter_topic,
            consumer_group=config.effective_consumer_group,
            servers=tuple(config.bootstrap_servers),
            secure=config.effective_security_protocol.endswith("SSL"),
            reply_rules=_reply_rules(config.mode, config.reply_topic, allow_lists),
            reply_allow_list=allow_lists,
            dead_letter_headers=_dead_letter_headers(),
        )
    return BusTopology(
        kind="memory",
        mode=config.mode,
        command=COMMANDS,
        reply=REPLIES,
        dead_letter=None,
        consumer_group=None,
        servers=(),
        secure=False,
        reply_rules=_reply_rules(config.mode, REPLIES, allow_lists),
        reply_allow_list=allow_lists,
        dead_letter_headers={},
    )


# -- the document ----------------------------------------------------------------------------


def _command_message(op: OperationSchema, kafka: bool) -> dict[str, Any]:
    envelope_ref = {"$ref": f"#/components/schemas/{ENVELOPE_SCHEMA}"}
    constrained = {
        "type": "object",
        "required": ["target_node", "operation", "handler_type"],
        "properties": {
            "target_node": {"const": op.node},
            "operation": {"const": op.operation},
            "handler_type": {"const": op.handler},
            "is_response": {"const": False},
            "payload": op.payload,
        },
    }
    message: dict[str, Any] = {
        "name": op.key,
        "title": f"{op.node} / {op.operation}",
        "summary": op.description or f"{op.action} on the {op.handler} handler",
        "description": (
            f"Operation `{op.operation}` of node `{op.node}`: action `{op.action}` of the `{op.handler}` handler; "
            f"side effects: {op.side_effects}."
        ),
        "contentType": "application/json",
        "payload": {"allOf": [envelope_ref, constrained]},
        "x-onex-node": op.node,
        "x-onex-operation": op.operation,
        "x-onex-pinned-params": list(op.pinned),
    }
    if kafka:
        message["bindings"] = {
            "kafka": {
                "key": {"type": "string", "description": "Partition key: commands with one key run in order."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        }
    return message


def _kafka_channel_binding(topic: str) -> dict[str, Any]:
    return {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING_VERSION}}


def build_document(host: LoadedHost) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``host`` as a JSON-ready dict."""
    contract = host.contract
    schemas: dict[str, Any] = {}
    schemas[ENVELOPE_SCHEMA] = _hoist_schema(ModelOnexEnvelope, "", schemas)
    operations = node_operations(host, schemas)
    bus = bus_topology(host)
    kafka = bus.kind == "kafka"

    messages: dict[str, Any] = {op.key: _command_message(op, kafka) for op in operations}
    messages[REPLY_MESSAGE] = {
        "name": REPLY_MESSAGE,
        "title": "Reply envelope",
        "summary": "The answer to one command: same correlation_id, causation_id = the command's envelope_id.",
        "contentType": "application/json",
        "payload": {
            "allOf": [
                {"$ref": f"#/components/schemas/{ENVELOPE_SCHEMA}"},
                {
                    "type": "object",
                    "required": ["is_response", "success"],
                    "properties": {"is_response": {"const": True}},
                },
            ]
        },
    }
    command_refs = {op.key: {"$ref": f"#/components/messages/{op.key}"} for op in operations}
    channels: dict[str, Any] = {
        "commands": {
            "address": bus.command,
            "title": "Commands",
            "description": "Command envelopes for the nodes this host serves.",
            "messages": command_refs,
        },
        "replies": {
            "address": bus.reply,
            "title": "Replies",
            "description": bus.reply_rules,
            "messages": {REPLY_MESSAGE: {"$ref": f"#/components/messages/{REPLY_MESSAGE}"}},
        },
    }
    doc_operations: dict[str, Any] = {}
    for op in operations:
        entry: dict[str, Any] = {
            "action": "receive",
            "title": f"{op.node} / {op.operation}",
            "summary": op.description or f"{op.action} on the {op.handler} handler",
            "channel": {"$ref": "#/channels/commands"},
            "messages": [{"$ref": f"#/channels/commands/messages/{op.key}"}],
            "reply": {
                "address": {
                    "location": "$message.payload#/metadata/reply_to",
                    "description": bus.reply_rules,
                },
                "channel": {"$ref": "#/channels/replies"},
                "messages": [{"$ref": f"#/channels/replies/messages/{REPLY_MESSAGE}"}],
            },
        }
        if bus.consumer_group is not None:
            entry["bindings"] = {
                "kafka": {
                    "groupId": {"type": "string", "enum": [bus.consumer_group]},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            }
        doc_operations[op.key] = entry
    doc_operations["sendReply"] = {
        "action": "send",
        "title": "Replies",
        "summary": bus.reply_rules,
        "channel": {"$ref": "#/channels/replies"},
        "messages": [{"$ref": f"#/channels/replies/messages/{REPLY_MESSAGE}"}],
    }

    document: dict[str, Any] = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": f"{contract.name} (ONEX Runtime Host)",
            "version": contract.version,
            "description": (
                (contract.description + "\n\n" if contract.description else "")
                + f"Generated by `onex-host asyncapi` from `{host.path.name}`: nodes, operations and payload "
                "schemas come from the contracts and the handlers' payload models. "
                f"Event bus: {bus.kind}, mode {bus.mode}. The same command envelopes are accepted by "
                "`POST /v1/envelopes` on the health port, when the envelope API is enabled."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": doc_operations,
        "components": {"messages": messages, "schemas": schemas},
    }
    if kafka:
        channels["commands"]["bindings"] = _kafka_channel_binding(bus.command)
        channels["replies"]["bindings"] = _kafka_channel_binding(bus.reply)
        assert bus.dead_letter is not None
        channels["deadLetters"] = {
            "address": bus.dead_letter,
            "title": "Dead letters",
            "description": (
                "Commands the host could not answer or that can never succeed as sent: the original key and "
                "bytes, unchanged, with the reason in `onex.dlq.*` headers. `onex-host dlq redrive` replays them."
            ),
            "messages": {DEAD_LETTER_MESSAGE: {"$ref": f"#/components/messages/{DEAD_LETTER_MESSAGE}"}},
            "bindings": _kafka_channel_binding(bus.dead_letter),
        }
        messages[DEAD_LETTER_MESSAGE] = {
            "name": DEAD_LETTER_MESSAGE,
            "title": "Dead letter",
            "summary": "The original command record, with why it was dead-lettered in its headers.",
            "contentType": "application/octet-stream",
            "headers": {
                "type": "object",
                "required": sorted(name for name, text in bus.dead_letter_headers.items() if "(optional)" not in text),
                "properties": {
                    name: {"type": "string", "description": text} for name, text in bus.dead_letter_headers.items()
                },
            },
            "payload": {"description": "The original record value, byte for byte (absent when it was too large)."},
        }
        doc_operations["sendDeadLetter"] = {
            "action": "send",
            "title": "Dead letters",
            "channel": {"$ref": "#/channels/deadLetters"},
            "messages": [{"$ref": f"#/channels/deadLetters/messages/{DEAD_LETTER_MESSAGE}"}],
        }
        server_refs = []
        servers: dict[str, Any] = {}
        for index, server in enumerate(bus.servers):
            name = f"broker{index}"
            servers[name] = {
                "host": server,
                "protocol": "kafka-secure" if bus.secure else "kafka",
                "description": "Kafka bootstrap server",
            }
            server_refs.append({"$ref": f"#/servers/{name}"})
        document["servers"] = servers
        for channel in channels.values():
            channel["servers"] = server_refs
    return document


def to_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


# -- HTML ------------------------------------------------------------------------------------

_PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1b1f24; line-height: 1.45; }
h1 { margin-bottom: 0; } .version { color: #57606a; margin-top: 0.2rem; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } code { background: #f6f8fa; padding: 0 0.2rem; }
section.op { border: 1px solid #d0d7de; border-radius: 6px; padding: 0 1rem 0.5rem; margin: 1rem 0; }
section.op h3 { font-family: ui-monospace, monospace; } pre { background: #f6f8fa; padding: 0.6rem; overflow-x: auto; }
.tag { display: inline-block; background: #ddf4ff; border-radius: 1rem; padding: 0 0.6rem; font-size: 0.85rem; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def render_html(document: Mapping[str, Any]) -> str:
    """One self-contained page (no script, no network) showing a document ``build_document`` made."""
    info = document["info"]
    channels = document["channels"]
    messages = document["components"]["messages"]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(info['title'])}</title><style>{_PAGE_STYLE}</style></head><body>",
        f"<h1>{_e(info['title'])}</h1>",
        f'<p class="version">version {_e(info["version"])} · AsyncAPI {_e(document["asyncapi"])}</p>',
        *(f"<p>{_e(paragraph)}</p>" for paragraph in str(info.get("description", "")).split("\n\n")),
        "<h2>Channels</h2><table><tr><th>Channel</th><th>Address</th><th>What goes there</th></tr>",
    ]
    for name, channel in channels.items():
        parts.append(
            f"<tr><td>{_e(channel.get('title', name))}</td><td><code>{_e(channel['address'])}</code></td>"
            f"<td>{_e(channel.get('description', ''))}</td></tr>"
        )
    received = [key for key, operation in document["operations"].items() if operation["action"] == "receive"]
    parts.append(
        "</table><h2>Operations</h2><table><tr><th>Node</th><th>Operation</th><th>Handler</th><th>Summary</th></tr>"
    )
    for key in received:
        message = messages[key]
        parts.append(
            f'<tr><td>{_e(message["x-onex-node"])}</td><td><a href="#{_e(key)}">{_e(message["x-onex-operation"])}'
            f"</a></td><td>{_e(message['payload']['allOf'][1]['properties']['handler_type']['const'])}</td>"
            f"<td>{_e(message['summary'])}</td></tr>"
        )
    parts.append("</table>")
    for key in received:
        message = messages[key]
        constrained = message["payload"]["allOf"][1]["properties"]
        pinned = message.get("x-onex-pinned-params") or []
        parts += [
            f'<section class="op" id="{_e(key)}"><h3>{_e(message["x-onex-node"])} / '
            f"{_e(message['x-onex-operation'])}</h3>",
            f'<p><span class="tag">{_e(constrained["handler_type"]["const"])}</span> {_e(message["summary"])}</p>',
            f"<p>{_e(message['description'])}</p>",
        ]
        if pinned:
            parts.append(f"<p>Fixed by the contract (do not send): {_e(', '.join(pinned))}</p>")
        parts += [
            "<p>Send an envelope with <code>target_node</code>, <code>operation</code> and "
            "<code>handler_type</code> as above; its <code>payload</code>:</p>",
            f"<pre>{_e(json.dumps(constrained['payload'], indent=2))}</pre></section>",
        ]
    dead_letter = messages.get(DEAD_LETTER_MESSAGE)
    if dead_letter is not None:
        parts.append("<h2>Dead-letter headers</h2><table><tr><th>Header</th><th>Meaning</th></tr>")
        for name, header in dead_letter["headers"]["properties"].items():
            parts.append(f"<tr><td><code>{_e(name)}</code></td><td>{_e(header['description'])}</td></tr>")
        parts.append("</table>")
    parts += [
        "<h2>Envelope</h2>",
        f"<pre>{_e(json.dumps(document['components']['schemas'][ENVELOPE_SCHEMA], indent=2))}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
