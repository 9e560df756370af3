"""What every baseline shares: the reply it builds and its command line.

The reply is the envelope the onex host would send for the echo operation
(same fields, same payload), built as a plain dict, so every service moves
the same bytes and does the same ``json.loads`` / ``json.dumps`` work.
"""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime
from typing import Any


def echo_reply(command: dict[str, Any]) -> dict[str, Any]:
    """The success reply to an echo command: payload echoed, source and target swapped."""
    return {
        "envelope_id": str(uuid.uuid4()),
        "envelope_version": command.get("envelope_version", "1.0.0"),
        "correlation_id": command["correlation_id"],
        "causation_id": command.get("envelope_id"),
        "source_node": command.get("target_node") or "runtime_host",
        "target_node": command.get("source_node"),
        "handler_type": command.get("handler_type"),
        "operation": command.get("operation"),
        "payload": command.get("payload") or {},
        "metadata": {},
        "timestamp": datetime.now(UTC).isoformat(),
        "ttl_seconds": None,
        "is_response": True,
        "success": True,
        "error": None,
        "error_code": None,
    }


def argument_parser(description: str | None) -> argparse.ArgumentParser:
    """The options every echo service takes; a service may add its own."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", required=True, help="host:port of a broker")
    parser.add_argument("--command-topic", required=True)
    parser.add_argument("--response-topic", required=True)
    parser.add_argument("--group", required=True, help="consumer group")
    parser.add_argument(
        "--commit-interval", type=float, default=1.0, help="seconds between commits (the onex bus default)"
    )
    return parser
