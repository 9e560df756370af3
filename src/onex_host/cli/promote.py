"""``onex-host promote``: make a standby host consume, by one call to its ``POST /admin/promote``.

With ``--handover-from GROUP`` the host first copies that group's committed
offsets to its own group (the checks of ``onex-host offsets handover``), then
joins: the two steps a cutover waits for, done by a process that is already
warm. Exit codes: 0 promoted (or already active: a repeated call is harmless);
1 refused (wrong token, no admin endpoint, handover refused, host stopping);
2 bad arguments (no token); 3 host unreachable. Failures are one line.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import httpx

from onex_host.cli._common import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, CliError, add_host_url_argument, number_in

DESCRIPTION = (
    "POST /admin/promote to a host started with --standby: it hands over the offsets of --handover-from "
    "(when given) and joins its consumer group. Exit 0 when the host consumes, 1 refused, 3 unreachable."
)


def configure(parser: argparse.ArgumentParser) -> None:
    add_host_url_argument(parser, "its health port")
    parser.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help="file holding the host's admin token (default: $ONEX_ADMIN_TOKEN); never pass the token itself",
    )
    parser.add_argument(
        "--handover-from",
        metavar="GROUP",
        help="hand over this (legacy) consumer group's offsets to the host's group before it joins",
    )
    parser.add_argument(
        "--wait-idle",
        type=number_in(float, low=0, high=900, what="seconds"),
        default=0.0,
        metavar="S",
        help="with --handover-from: wait up to S seconds for that group to have no member, then hand over at "
        "once (start this before stopping the legacy consumers; default: 0, refuse while it has members)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the answer, on top of --wait-idle (default: 60)",
    )
    parser.set_defaults(func=execute)


def read_token(token_file: Path | None) -> str:
    """The admin token from ``token_file`` (one trailing newline dropped), else ``$ONEX_ADMIN_TOKEN``."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"--token-file: cannot read {token_file}: {getattr(exc, 'strerror', None) or exc}") from None
        if not token:
            raise CliError(f"--token-file: {token_file} is empty")
        return token
    token = os.environ.get("ONEX_ADMIN_TOKEN", "")
    if not token:
        raise CliError("no admin token: give --token-file FILE or set ONEX_ADMIN_TOKEN")
    return token


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"error": response.text[:200]}
    return body if isinstance(body, dict) else {"error": str(body)[:200]}


def execute(args: argparse.Namespace) -> int:
    token = read_token(args.token_file)
    url = args.url.rstrip("/") + "/admin/promote"
    if args.wait_idle and not args.handover_from:
        raise CliError("--wait-idle needs --handover-from (the group whose members it waits for)")
    body: dict[str, object] = {}
    if args.handover_from:
        body = {"handover_from_group": args.handover_from, "wait_idle_seconds": args.wait_idle}
    try:
        response = httpx.post(
            url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=args.timeout + args.wait_idle
        )
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach host at {url}: {type(exc).__name__}: {exc}", EXIT_UNREACHABLE) from None
    answer = _answer(response)
    if response.status_code == 404:
        raise CliError(
            f"host at {args.url} has no admin endpoint (404): it was started without an admin token", EXIT_FAILED
        )
    if response.status_code != 200:
        message = answer.get("detail") or answer.get("error") or "no reason given"
        raise CliError(f"promotion refused ({response.status_code}): {message}", EXIT_FAILED)
    line = str(answer.get("detail", "promoted"))
    if "seconds" in answer:
        line += f" in {answer['seconds']}s"
    handover = answer.get("handover")
    if isinstance(handover, dict):
        partitions = handover.get("partitions") or []
        unconsumed = sum(int(p.get("unconsumed", 0)) for p in partitions if isinstance(p, dict))
        line += (
            f" (offsets of {handover.get('from_group')!r} handed over: {len(partitions)} partitions, "
            f"{unconsumed} records to catch up)"
        )
    print(line)
    return EXIT_OK
