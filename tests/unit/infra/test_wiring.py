"""The wiring registry: the one map from handler type to class."""

from __future__ import annotations

import subprocess
import sys

import pytest

from onex_host.core.contracts import ModelRuntimeHostContract
from onex_host.core.enums import EnumHandlerType
from onex_host.core.errors import ContractError
from onex_host.infra.wiring import HANDLER_REGISTRY, _LazyHandlerRegistry, check_handler_configs


def test_every_handler_type_has_an_implementation_of_that_type() -> None:
    assert set(HANDLER_REGISTRY) == set(EnumHandlerType)
    for kind in EnumHandlerType:
        assert HANDLER_REGISTRY[kind].handler_type is kind


def test_a_host_imports_only_the_client_libraries_it_enables() -> None:
    code = (
        "import sys; from onex_host.infra.wiring import HANDLER_REGISTRY; from onex_host.core.enums import "
        "EnumHandlerType; HANDLER_REGISTRY[EnumHandlerType.LOCAL]; "
        "print(sorted(m for m in ('asyncpg', 'hvac') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_location_of_the_wrong_type_is_a_bug_caught_on_lookup() -> None:
    registry = _LazyHandlerRegistry({EnumHandlerType.DB: "onex_host.infra.handlers.local:LocalHandler"})
    with pytest.raises(TypeError, match="does not implement 'db'"):
        registry[EnumHandlerType.DB]
    assert len(registry) == 1


def test_handler_config_problems_name_the_handler_entry() -> None:
    contract = ModelRuntimeHostContract(
        name="h", environment="test", handlers=[{"handler_type": "local", "config": {"max_sleep_seconds": "x"}}]
    )
    with pytest.raises(ContractError) as info:
        check_handler_configs(contract, "host.yaml")
    assert [str(p) for p in info.value.problems] == [
        "host.yaml: handlers[0].config.max_sleep_seconds: "
        "Input should be a valid number, unable to parse string as a number"
    ]
