"""The heap settling the CLI does once a host serves (``onex_host.infra.heap``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from onex_host.infra.heap import YOUNG_THRESHOLD, settle_after_startup


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_collector")
def test_settling_freezes_the_startup_heap_and_raises_only_the_young_threshold() -> None:
    _young, middle, old = gc.get_threshold()
    startup = [object(), {"built": "at startup"}]
    settle_after_startup()
    assert gc.get_freeze_count() > 0
    assert all(startup is not tracked for tracked in gc.get_objects())  # frozen: out of every generation
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)


@pytest.mark.usefixtures("restored_collector")
def test_the_cli_settles_the_heap_once_the_host_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    from onex_host.cli import main
    from onex_host.cli._common import bundled_contracts_dir
    from onex_host.infra.process import RuntimeHostProcess

    seen: list[object] = []

    async def run(self: RuntimeHostProcess, on_started: object = None) -> None:
        seen.append(on_started)

    monkeypatch.setattr(RuntimeHostProcess, "run", run)
    dev = bundled_contracts_dir() / "runtime" / "dev_runtime_host.yaml"
    assert main(["run", str(dev), "--log-format", "text"]) == 0
    assert seen == [settle_after_startup]
