"""Errors a user can cause, as values with clear messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from onex_host.core.enums import EnumErrorCode


class OperationError(Exception):
    """A request could not be served; becomes an error reply, never a crash.

    Handlers raise it for anything the caller can fix or should know about
    (bad payload, refused host, upstream down). ``details`` must never carry a
    secret: it is published in the reply.
    """

    def __init__(self, code: EnumErrorCode, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


class ContractError(Exception):
    """A contract file is wrong. Rendered as ``file: field: what is wrong``, one per line."""

    def __init__(self, problems: list[ContractProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ContractProblem:
    __slots__ = ("field", "message", "path")

    def __init__(self, path: Path | str, field: str, message: str) -> None:
        self.path = str(path)
        self.field = field or "(top level)"
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.message}"

    def __repr__(self) -> str:
        return f"ContractProblem({str(self)!r})"


def contract_error(path: Path | str, field: str, message: str) -> ContractError:
    return ContractError([ContractProblem(path, field, message)])
