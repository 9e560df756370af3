"""Would the host start as a runner starts it? The real loader's answer, without starting it.

`onex-host validate` checks the contract and every node contract with the given
environment; the bind the runner passes on the command line is checked against
the contract's envelope-API exposure rule, which validate cannot see (it knows
no command line). A runner that gets either wrong ships a host that exits at start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from onex_host.core.file_registry import load_host
from tests.appliance.tooling import explain, run_tool, venv_tool


def bind_argument(args: Sequence[str]) -> str | None:
    arguments = list(args)
    if "--bind" in arguments:
        return arguments[arguments.index("--bind") + 1]
    return None


def assert_host_would_start(
    config: pytest.Config, contract: Path, environment: Mapping[str, str], args: Sequence[str], runner: str
) -> None:
    onex_host = venv_tool(config, "onex-host")
    result = run_tool([onex_host, "validate", str(contract)], env=environment)
    assert result.returncode == 0, f"{runner}: the contract does not load with its environment\n{explain(result)}"
    health = load_host(contract, environment).contract.health_endpoint
    bind = bind_argument(args) or health.bind
    problem = health.api_exposure_problem(bind)
    assert problem is None, f"{runner}: the host would refuse to start: {problem}"
