"""``onex-host asyncapi``: the AsyncAPI 3.0 document of a runtime host contract, and an HTML page of it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from onex_host.cli._common import EXIT_OK, CliError
from onex_host.core.file_registry import load_host
from onex_host.infra.asyncapi import build_document, render_html, to_json
from onex_host.infra.process import RuntimeHostProcess

PAGE_NAME = "index.html"


DESCRIPTION = (
    "Write the AsyncAPI 3.0 document (JSON) of a contract: its command, reply and dead-letter "
    "channels and, per node and operation, the payload schema of the handler's action. A contract that "
    "would not start is refused with one 'error:' line per problem and exit 2."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("contract", help="runtime host contract (YAML)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the document here (default: stdout)")
    parser.add_argument("--html", metavar="DIR", help=f"also write a page for a browser, DIR/{PAGE_NAME}")
    parser.set_defaults(func=execute)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{path}: cannot write: {exc.strerror or exc}") from None


def execute(args: argparse.Namespace) -> int:
    path = Path(args.contract)
    if not path.is_file():
        raise CliError(f"{path}: (file): contract file not found")
    host = load_host(path)
    # The same checks as `onex-host validate` (handlers, operations, bus config), opening nothing:
    # a document is written only for a contract that would start.
    RuntimeHostProcess(host)
    document = build_document(host)
    text = to_json(document)
    if args.output:
        _write(Path(args.output), text)
    else:
        sys.stdout.write(text)
    if args.html:
        _write(Path(args.html) / PAGE_NAME, render_html(document))
    return EXIT_OK
