"""Contract files: YAML parsing, ``${VAR}`` interpolation, and clear errors.

Interpolation happens once, here, on the parsed YAML tree (never on raw text),
so a value can never inject YAML structure and every problem can be reported
with the field it belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from onex_host.core.errors import ContractError, ContractProblem, contract_error

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_CONTRACT_BYTES = 1024 * 1024
"""Contracts are small; a larger file is refused before it is parsed."""


class _ContractYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases.

    An alias (``*name``) re-uses a node, and nested aliases expand
    exponentially ("billion laughs"): a few hundred bytes that take the
    loader minutes and gigabytes. Contracts have no need for them, so the
    first alias is an error with its line and column.
    """

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in contracts", event.start_mark
            )
        return super().compose_node(parent, index)


_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


def format_location(loc: tuple[int | str, ...] | list[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Interpolator:
    def __init__(self, path: Path, env: Mapping[str, str]) -> None:
        self._path = path
        self._env = env
        self.problems: list[ContractProblem] = []

    def walk(self, node: Any, loc: tuple[int | str, ...]) -> Any:
        if isinstance(node, dict):
            return {key: self.walk(value, (*loc, str(key))) for key, value in node.items()}
        if isinstance(node, list):
            return [self.walk(value, (*loc, i)) for i, value in enumerate(node)]
        if isinstance(node, str) and "$" in node:
            return _VAR.sub(lambda m: self._substitute(m, loc), node)
        return node

    def _substitute(self, match: re.Match[str], loc: tuple[int | str, ...]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        value = self._env.get(name)
        if value:
            return value
        if default is not None:
            return default
        self.problems.append(
            ContractProblem(self._path, format_location(loc), f"${{{name}}} is not set and has no default")
        )
        return ""


def parse_yaml_mapping(path: Path) -> dict[str, Any]:
    """Parse one contract file without interpolating it; raises ``ContractError``."""
    try:
        if path.stat().st_size > MAX_CONTRACT_BYTES:
            raise contract_error(
                path, "(file)", f"larger than {MAX_CONTRACT_BYTES} bytes; a contract is never that big"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise contract_error(path, "(file)", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise contract_error(path, "(file)", f"cannot read: {exc}") from None
    try:
        document = yaml.load(text, Loader=_ContractYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise contract_error(path, "(yaml)", "invalid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or "cannot parse"
        raise contract_error(path, "(yaml)", f"invalid YAML{where}: {problem}") from None
    if not isinstance(document, dict):
        raise contract_error(path, "(top level)", "expected a mapping of fields")
    return document


def interpolate(node: Any, path: Path, env: Mapping[str, str], loc: tuple[int | str, ...] = ()) -> Any:
    """Resolve ``${VAR}``/``${VAR:-default}``/``$$`` in a parsed tree (or one section of it, at ``loc``).

    Raises ``ContractError`` naming every variable with no value and no default.
    """
    interpolator = _Interpolator(path, env)
    result = interpolator.walk(node, loc)
    if interpolator.problems:
        raise ContractError(interpolator.problems)
    return result


def read_yaml_mapping(path: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """Parse one contract file and interpolate it; raises ``ContractError``."""
    interpolated: dict[str, Any] = interpolate(parse_yaml_mapping(path), path, env)
    return interpolated


def describe_error(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        return f"unknown value {error['input']!r} (expected {expected})"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"unknown value {error['input']!r} (expected {expected})"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def validation_problems(path: Path | str, exc: ValidationError, prefix: str = "") -> list[ContractProblem]:
    problems = []
    for error in exc.errors():
        loc = format_location(error["loc"])
        field = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
        problems.append(ContractProblem(path, field, describe_error(error)))
    return problems


def validate_model(model: type[ModelT], data: Mapping[str, Any], path: Path | str, prefix: str = "") -> ModelT:
    """Validate ``data``; every problem becomes one ``file: field: message`` line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ContractError(validation_problems(path, exc, prefix)) from None


def load_model(model: type[ModelT], path: Path, env: Mapping[str, str]) -> ModelT:
    return validate_model(model, read_yaml_mapping(path, env), path)
