"""``onex-host send``: post one envelope to a running host and print the reply."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from onex_host.cli._common import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, CliError, add_host_url_argument
from onex_host.core.enums import EnumHandlerType
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.loader import describe_error, format_location


def configure(parser: argparse.ArgumentParser) -> None:
    add_host_url_argument(parser, "its envelope API")
    parser.add_argument(
        "--token",
        default=os.environ.get("ONEX_API_TOKEN"),
        help="bearer token for the envelope API (default: $ONEX_API_TOKEN)",
    )
    parser.add_argument("--envelope", metavar="FILE", help="a complete envelope as JSON ('-' for stdin)")
    parser.add_argument("--target", default="echo", help="target node slug (default: echo)")
    parser.add_argument("--operation", default="echo", help="operation name (default: echo)")
    parser.add_argument(
        "--handler",
        default=EnumHandlerType.LOCAL.value,
        choices=[h.value for h in EnumHandlerType],
        help="handler type (default: local)",
    )
    parser.add_argument("--payload", default="{}", help="payload as a JSON object, or @FILE")
    parser.add_argument("--ttl", type=float, help="seconds the request stays valid")
    parser.add_argument("--source", default="cli", help="source node name (default: cli)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the reply")
    parser.set_defaults(func=execute)


def _read_json(text: str, what: str) -> Any:
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"{what}: cannot read {text[1:]}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


def _build_envelope(args: argparse.Namespace) -> ModelOnexEnvelope:
    try:
        if args.envelope:
            raw = sys.stdin.read() if args.envelope == "-" else "@" + args.envelope
            return ModelOnexEnvelope.model_validate(_read_json(raw, "--envelope"))
        payload = _read_json(args.payload, "--payload")
        if not isinstance(payload, dict):
            raise CliError("--payload: expected a JSON object")
        return ModelOnexEnvelope(
            source_node=args.source,
            target_node=args.target,
            handler_type=EnumHandlerType(args.handler),
            operation=args.operation,
            payload=payload,
            ttl_seconds=args.ttl,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        raise CliError(f"envelope: {format_location(error['loc'])}: {describe_error(error)}") from None


def execute(args: argparse.Namespace) -> int:
    envelope = _build_envelope(args)
    headers = {"Content-Type": "application/json"}
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    url = args.url.rstrip("/") + "/v1/envelopes"
    try:
        response = httpx.post(url, content=envelope.to_wire(), headers=headers, timeout=args.timeout)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach host at {url}: {exc}", EXIT_UNREACHABLE) from None
    if response.status_code != 200:
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = response.text
        raise CliError(f"host answered {response.status_code}: {message}", EXIT_FAILED)
    reply = ModelOnexEnvelope.from_wire(response.content)
    print(json.dumps(reply.model_dump(mode="json"), indent=2))
    return EXIT_OK if reply.success else EXIT_FAILED
