"""``onex-host validate``: check a contract, its nodes, handlers and bus without starting anything.

The environment the contract is interpolated with is the process environment,
with each ``--env-file`` read over it in order (``KEY=VALUE`` lines, as Compose
reads ``.env``). ``--allow-unset`` is for a pipeline that has no secrets (GitOps
CI validating production contracts): a ``${VAR}`` with no value and no default is
then listed as ``unset:`` instead of failing, the field that holds it is not
checked, and every other check runs as usual.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from onex_host.cli._common import EXIT_OK, CliError
from onex_host.core.errors import ContractError, ContractProblem
from onex_host.core.file_registry import load_host
from onex_host.core.loader import format_location, parse_yaml_mapping
from onex_host.infra.process import RuntimeHostProcess

_ENV_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-.*?)?\}")
# What an unset variable stands for while the rest is checked, tried in order until the
# field holding it accepts one (a name, a URL or host:port, a number); never a real address.
_PLACEHOLDERS = ("unset", "http://unset.invalid:1", "1")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("contract", help="runtime host contract (YAML)")
    parser.add_argument(
        "--env-file",
        action="append",
        default=[],
        metavar="FILE",
        help="KEY=VALUE lines read over the process environment (repeatable; later files win)",
    )
    parser.add_argument(
        "--allow-unset",
        action="store_true",
        help="list ${VAR}s with no value and no default as 'unset:' lines instead of failing; "
        "the fields holding them are not checked, everything else is",
    )
    parser.set_defaults(func=execute)


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` per line; blank lines and ``#`` comments skipped, one level of quotes removed."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise CliError(f"{path}: (file): env file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: (file): cannot read: {exc}") from None
    values: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ENV_LINE.match(stripped)
        if match is None:
            raise CliError(f"{path}: line {number}: expected KEY=VALUE")
        name, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


class _PlaceholderEnvironment(Mapping[str, str]):
    """The environment, with a placeholder for each variable ``--allow-unset`` lets stay unset.

    Only those: a variable used with a default (``${VAR:-x}``) still gets its default.
    """

    def __init__(self, values: Mapping[str, str], unset: dict[str, int]) -> None:
        self._values = values
        self.unset = unset  # variable -> index into _PLACEHOLDERS

    def __getitem__(self, name: str) -> str:
        value = self._values.get(name)
        if value:
            return value
        if name in self.unset:
            return _PLACEHOLDERS[self.unset[name]]
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _unset_references(
    node: Any, environment: Mapping[str, str], loc: tuple[int | str, ...] = ()
) -> Iterator[tuple[str, str]]:
    """(variable, field) for every ``${VAR}`` without a default that the environment leaves empty."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _unset_references(value, environment, (*loc, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _unset_references(value, environment, (*loc, index))
    elif isinstance(node, str):
        for match in _REFERENCE.finditer(node):
            name, default = match.group(1), match.group(2)
            if name is not None and default is None and not environment.get(name):
                yield name, format_location(loc)


def _concerns(problem: ContractProblem, path: str, fields: set[str]) -> bool:
    """Whether a problem is about a field holding an unset variable (or the object containing it)."""
    if problem.path != path:
        return False
    return any(
        problem.field == field
        or problem.field.startswith((f"{field}.", f"{field}["))
        or field.startswith((f"{problem.field}.", f"{problem.field}["))
        for field in fields
    )


def _load_and_wire(path: Path, environment: Mapping[str, str]) -> str:
    host = load_host(path, environment)
    # Building the process wires handlers, checks every operation against its
    # handler and validates the bus config, and opens nothing.
    process = RuntimeHostProcess(host)
    contract = host.contract
    handlers = ", ".join(h.value for h in process.runtime.handlers) or "none"
    bus = contract.event_bus.type if contract.event_bus.enabled else "disabled"
    return f"ok: {path} ({contract.name}: {len(host.nodes)} nodes; handlers: {handlers}; event bus: {bus})"


def execute(args: argparse.Namespace) -> int:
    path = Path(args.contract)
    if not path.is_file():
        raise CliError(f"{path}: (file): contract file not found")
    values: dict[str, str] = dict(os.environ)
    for env_file in args.env_file:
        values.update(read_env_file(Path(env_file)))
    if not args.allow_unset:
        print(_load_and_wire(path, values))
        return EXIT_OK

    # The runtime contract's own variables; an unset one in a node contract still fails.
    resolved = str(path.resolve())
    references = sorted(set(_unset_references(parse_yaml_mapping(path), values)))
    environment = _PlaceholderEnvironment(values, {name: 0 for name, _ in references})
    while True:
        try:
            summary = _load_and_wire(path, environment)
            break
        except ContractError as exc:
            concerning = {
                name for problem in exc.problems for name, field in references if _concerns(problem, resolved, {field})
            }
            retry = [name for name in sorted(concerning) if environment.unset[name] + 1 < len(_PLACEHOLDERS)]
            for name in retry:
                environment.unset[name] += 1
            if retry:
                continue
            fields = {field for _, field in references}
            remaining = [problem for problem in exc.problems if not _concerns(problem, resolved, fields)]
            if remaining:
                raise ContractError(remaining) from None
            summary = f"ok: {path} (not checked: the fields holding unset variables, and what depends on them)"
            break
    for name, field in references:
        print(f"unset: {resolved}: {field}: ${{{name}}} is not set and has no default")
    print(summary)
    return EXIT_OK
