"""Path and key rules shared by the Vault and Consul handlers."""

from __future__ import annotations

import pytest

from onex_host.infra.handlers._paths import join_paths, normalize_path, within_prefixes


def test_normalize_strips_outer_slashes() -> None:
    assert normalize_path("/a/b/") == "a/b"
    assert normalize_path("/") == ""


@pytest.mark.parametrize("path", ["a//b", "a/../b", "./a", "a/."])
def test_normalize_refuses_segments_that_could_escape(path: str) -> None:
    with pytest.raises(ValueError, match="segment"):
        normalize_path(path)


def test_join_skips_empty_parts() -> None:
    assert join_paths("", "a/", "/b") == "a/b"


@pytest.mark.parametrize(
    ("path", "prefixes", "inside"),
    [
        ("apps/onex/db", ["apps/onex"], True),
        ("apps/onex", ["apps/onex"], True),
        ("apps/onex-admin", ["apps/onex"], False),
        ("apps", ["apps/onex"], False),
        ("anything", None, True),
        ("anything", [], False),
        ("anything", [""], True),
    ],
)
def test_prefixes_match_whole_segments(path: str, prefixes: list[str] | None, inside: bool) -> None:
    assert within_prefixes(path, prefixes) is inside
