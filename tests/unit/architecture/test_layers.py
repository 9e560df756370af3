"""The layering that import-linter checks, plus what it cannot: no import cycle between any two modules.

A cycle is what made ``http_api`` and ``process`` one module in two files;
grimp (import-linter's graph library) counts imports under ``TYPE_CHECKING``
too, so a cycle cannot hide behind a type-only import.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[3]


def _strongly_connected(graph: grimp.ImportGraph) -> list[set[str]]:
    """Tarjan's algorithm over the module graph; every component of more than one module is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    counter = 0

    def visit(module: str) -> None:
        nonlocal counter
        index[module] = low[module] = counter
        counter += 1
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if not imported.startswith("onex_host"):
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            components.append(component)

    for module in sorted(graph.modules):
        if module.startswith("onex_host") and module not in index:
            visit(module)
    return components


def _cycles(graph: grimp.ImportGraph) -> list[set[str]]:
    """Cycles between modules; a package importing its own submodules (``__init__`` re-exports) is not one."""
    found = []
    for component in _strongly_connected(graph):
        if len(component) > 1:
            found.append(component)
    return found


def test_no_module_of_onex_host_takes_part_in_an_import_cycle() -> None:
    graph = grimp.build_graph("onex_host")

    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("onex_host.a", "onex_host.b", "onex_host.c"):
        graph.add_module(module)
    graph.add_import(importer="onex_host.a", imported="onex_host.b")
    graph.add_import(importer="onex_host.b", imported="onex_host.a")
    graph.add_import(importer="onex_host.c", imported="onex_host.a")

    assert _cycles(graph) == [{"onex_host.a", "onex_host.b"}]


def test_import_linter_contracts_ignore_no_import() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]

    assert [c["id"] for c in contracts if c.get("ignore_imports")] == []
    layers = next(c for c in contracts if c["id"] == "layers")["layers"]
    assert layers == ["onex_host.cli", "onex_host.infra", "onex_host.runtime", "onex_host.spi", "onex_host.core"]
