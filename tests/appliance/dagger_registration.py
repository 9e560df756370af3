"""Register the Dagger module with the installed dagger-io, offline; print its functions as JSON.

Run as ``python -m tests.appliance.dagger_registration ENTRY_POINT`` with
``DAGGER_MAIN_OBJECT`` set, exactly as the Dagger runtime does before it imports
the module. The SDK builds its type definitions as a lazy GraphQL query and
sends it with one final ``Module.id()``; that one call is captured instead of
sent, so everything before it (argument types, defaults, DefaultPath, Ignore,
the main object's constructor) runs for real. It uses the SDK's internal
``Module._typedefs``: if a new SDK moves it, this check fails loudly rather
than passing silently.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagger
from dagger.client._core import Context, Field


def _fields(context: Context) -> Iterator[Field]:
    for selection in context.selections:
        yield selection
        for value in selection.args.values():
            nested = getattr(value, "_ctx", None)
            if isinstance(nested, Context):
                yield from _fields(nested)


def _functions(module_query: Context) -> dict[str, Any]:
    """{"arguments": function -> argument -> {defaultPath, defaultValue, ignore} (in query order),
    "cache_policies": function -> FunctionCachePolicy name, for functions that declare one}."""
    functions: dict[str, dict[str, dict[str, Any]]] = {}
    policies: dict[str, str] = {}
    current: dict[str, dict[str, Any]] | None = None
    current_name = ""
    for selection in _fields(module_query):
        if selection.name == "function":
            current_name = str(selection.args["name"])
            current = functions.setdefault(current_name, {})
        elif selection.name == "withArg" and current is not None:
            args = selection.args
            current[str(args["name"])] = {key: args.get(key) for key in ("defaultPath", "defaultValue", "ignore")}
        elif selection.name == "withCachePolicy" and current is not None:
            policy = selection.args["policy"]
            policies[current_name] = str(getattr(policy, "name", policy))
    return {"arguments": functions, "cache_policies": policies}


async def _register(entry_point: str) -> dict[str, Any]:
    captured: list[Context] = []

    async def capture_id(module: dagger.Module) -> str:
        captured.append(module._ctx)
        return "captured-offline"

    dagger.Module.id = capture_id  # type: ignore[method-assign,assignment]
    main_class = importlib.metadata.EntryPoint(name="main_object", group="dagger.mod", value=entry_point).load()
    await main_class.__dagger_module__._typedefs()
    (module_query,) = captured
    return _functions(module_query)


def main() -> None:
    sys.path.insert(0, str(Path.cwd() / "ci"))
    print(json.dumps(asyncio.run(_register(sys.argv[1]))))


if __name__ == "__main__":
    main()
