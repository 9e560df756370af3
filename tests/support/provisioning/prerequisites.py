"""A prerequisite the test session could not provide: skipped, or failed under ``--require-services``."""

from __future__ import annotations

import subprocess
from typing import NoReturn

import pytest


def unavailable(config: pytest.Config, message: str) -> NoReturn:
    """Skip, or fail under ``--require-services``, because a prerequisite is missing."""
    if config.getoption("--require-services"):
        pytest.fail(f"{message} (--require-services turns this into a failure)", pytrace=False)
    pytest.skip(message)


def explain(result: subprocess.CompletedProcess[str]) -> str:
    """A finished tool run as an assertion message: the command, its exit code and both outputs."""
    return f"$ {' '.join(map(str, result.args))}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"
