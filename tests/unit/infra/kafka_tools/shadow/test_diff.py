from __future__ import annotations

import pytest

from onex_host.infra.kafka_tools.shadow.diff import DifferenceKind, FieldDifference, diff_fields
from onex_host.infra.kafka_tools.shadow.ignore import IgnoreRules

NO_DEFAULTS = IgnoreRules.from_patterns([], include_defaults=False)


def test_equal_documents_have_no_difference() -> None:
    doc = {"payload": {"a": [1, {"b": "x"}]}, "success": True}
    assert diff_fields(doc, {"success": True, "payload": {"a": [1, {"b": "x"}]}}, NO_DEFAULTS) == []


def test_a_changed_leaf_is_reported_at_its_own_path() -> None:
    differences = diff_fields({"payload": {"n": 1, "s": "a"}}, {"payload": {"n": 2, "s": "a"}}, NO_DEFAULTS)
    assert differences == [FieldDifference("payload.n", DifferenceKind.CHANGED, legacy=1, shadow=2)]


def test_fields_present_on_one_side_only() -> None:
    differences = diff_fields({"payload": {"old": 1}}, {"payload": {"new": 2}}, NO_DEFAULTS)
    assert differences == [
        FieldDifference("payload.new", DifferenceKind.ONLY_SHADOW, shadow=2),
        FieldDifference("payload.old", DifferenceKind.ONLY_LEGACY, legacy=1),
    ]


def test_lists_are_compared_by_index() -> None:
    differences = diff_fields({"items": [1, 2, 3]}, {"items": [1, 5]}, NO_DEFAULTS)
    assert [(d.path, d.kind) for d in differences] == [
        ("items.1", DifferenceKind.CHANGED),
        ("items.2", DifferenceKind.ONLY_LEGACY),
    ]


def test_a_type_change_is_a_difference_but_int_and_float_are_one_json_number() -> None:
    assert diff_fields({"v": 1}, {"v": 1.0}, NO_DEFAULTS) == []
    assert [d.path for d in diff_fields({"v": 1}, {"v": True}, NO_DEFAULTS)] == ["v"]
    assert [d.path for d in diff_fields({"v": {"x": 1}}, {"v": [1]}, NO_DEFAULTS)] == ["v"]
    assert [d.path for d in diff_fields({"v": None}, {"v": 0}, NO_DEFAULTS)] == ["v"]


def test_ignored_paths_and_everything_beneath_them_are_left_out() -> None:
    rules = IgnoreRules.from_patterns(["payload.generated_at", "metadata"], include_defaults=False)
    legacy = {"payload": {"generated_at": "t1", "n": 1}, "metadata": {"trace": {"id": "a"}}}
    shadow = {"payload": {"generated_at": "t2", "n": 1}, "metadata": {"trace": {"id": "b"}, "extra": 1}}
    assert diff_fields(legacy, shadow, rules) == []


def test_globs_match_list_items_and_any_depth() -> None:
    rules = IgnoreRules.from_patterns(["payload.rows.*.id", "*.trace_id"], include_defaults=False)
    legacy = {"payload": {"rows": [{"id": 1, "v": "a"}], "deep": {"trace_id": "x"}}}
    shadow = {"payload": {"rows": [{"id": 2, "v": "b"}], "deep": {"trace_id": "y"}}}
    assert [d.path for d in diff_fields(legacy, shadow, rules)] == ["payload.rows.0.v"]


def test_defaults_ignore_the_fields_every_reply_sets_fresh() -> None:
    rules = IgnoreRules.from_patterns([])
    assert diff_fields({"envelope_id": "a", "timestamp": "t1"}, {"envelope_id": "b", "timestamp": "t2"}, rules) == []
    # the default is exact: a payload field of the same name is still compared
    assert [d.path for d in diff_fields({"payload": {"timestamp": 1}}, {"payload": {"timestamp": 2}}, rules)] == [
        "payload.timestamp"
    ]


@pytest.mark.parametrize("bad", ["", ".payload", "payload.", "payload..x"])
def test_a_malformed_pattern_is_rejected_by_name(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a dotted field path"):
        IgnoreRules.from_patterns([bad])


def test_difference_json_shows_only_the_sides_that_have_the_field() -> None:
    assert FieldDifference("p", DifferenceKind.ONLY_SHADOW, shadow=2).as_json() == {
        "path": "p",
        "kind": "only_shadow",
        "shadow": 2,
    }
    assert FieldDifference("p", DifferenceKind.CHANGED, legacy=None, shadow=2).as_json() == {
        "path": "p",
        "kind": "changed",
        "legacy": None,
        "shadow": 2,
    }


@pytest.mark.parametrize(
    "path",
    [
        "payload.data.password",
        "payload.api_key",
        "payload.apiKey",
        "payload.client_secret",
        "payload.items.0.access_token",
        "payload.headers.Authorization",
        "payload.db.dsn",
    ],
)
def test_values_of_fields_named_like_secrets_are_never_shown(path: str) -> None:
    difference = FieldDifference(path, DifferenceKind.CHANGED, legacy="hunter2-legacy", shadow="hunter2-shadow")

    shown = difference.as_json()

    assert (shown["legacy"], shown["shadow"]) == ("***", "***")
    assert shown["path"] == path


@pytest.mark.parametrize("path", ["payload.author", "payload.passenger", "payload.usage.prompt_tokens", "payload.key"])
def test_ordinary_fields_keep_their_values(path: str) -> None:
    difference = FieldDifference(path, DifferenceKind.CHANGED, legacy=1, shadow=2)

    shown = difference.as_json()

    assert (shown["legacy"], shown["shadow"]) == (1, 2)
