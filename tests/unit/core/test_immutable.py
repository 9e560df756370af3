"""``@immutable``: frozen where it is checked (mypy), a plain slotted dataclass where it is paid (run time)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

from onex_host.core.immutable import immutable


@immutable
class _Point:
    x: int
    y: int = 0


def test_it_is_a_slotted_dataclass_with_value_equality() -> None:
    assert _Point(1) == _Point(1, 0) != _Point(2)
    assert not hasattr(_Point(1), "__dict__")
    assert repr(_Point(1, 2)) == "_Point(x=1, y=2)"


def test_mypy_refuses_an_assignment_to_a_field(tmp_path: Path) -> None:
    module = tmp_path / "assigns.py"
    module.write_text(
        textwrap.dedent(
            """
            from onex_host.core.immutable import immutable

            @immutable
            class Point:
                x: int

            Point(1).x = 2
            """
        )
    )
    out, _err, status = mypy_api.run(["--strict", "--no-incremental", "--cache-dir", str(tmp_path), str(module)])
    assert status == 1
    assert 'Property "x" defined in "Point" is read-only' in out


def test_instances_are_not_hashable() -> None:
    # The documented trade-off: what must be a dict key stays dataclass(frozen=True).
    with pytest.raises(TypeError):
        hash(_Point(1))
