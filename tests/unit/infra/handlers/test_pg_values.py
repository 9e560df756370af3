"""PostgreSQL values to JSON and JSON arguments to the types a statement declares."""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid
from decimal import Decimal

import asyncpg
import pytest

from onex_host.infra.handlers.db.values import row_to_json, to_json, to_pg_args


def test_results_become_plain_json() -> None:
    ref = uuid.uuid4()
    row = {
        "n": Decimal("12.30"),
        "ref": ref,
        "at": dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC),
        "day": dt.date(2024, 5, 1),
        "span": dt.timedelta(minutes=1, seconds=30),
        "raw": b"\x00\x01",
        "tags": ["a", None],
        "pair": (1, "x"),
        "doc": {"k": [1, 2]},
        "net": ipaddress.ip_network("10.0.0.0/8"),
        "range": asyncpg.Range(1, 5),
        "nan": float("nan"),
    }

    assert row_to_json(row) == {
        "n": "12.30",
        "ref": str(ref),
        "at": "2024-05-01T12:00:00+00:00",
        "day": "2024-05-01",
        "span": 90.0,
        "raw": "AAE=",
        "tags": ["a", None],
        "pair": [1, "x"],
        "doc": {"k": [1, 2]},
        "net": "10.0.0.0/8",
        "range": {"lower": 1, "upper": 5, "lower_inc": True, "upper_inc": False, "empty": False},
        "nan": "nan",
    }
    assert to_json(True) is True


def test_string_arguments_become_the_declared_types() -> None:
    ref = uuid.uuid4()
    args = to_pg_args(
        ["2024-05-01T12:00:00Z", "2024-05-01", "1.10", str(ref), "AAE=", 2.5, "text", 7],
        ["timestamptz", "date", "numeric", "uuid", "bytea", "numeric", "text", "int4"],
    )

    assert args == [
        dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC),
        dt.date(2024, 5, 1),
        Decimal("1.10"),
        ref,
        b"\x00\x01",
        Decimal("2.5"),
        "text",
        7,
    ]


@pytest.mark.parametrize(
    ("value", "type_name", "where"),
    [("soon", "timestamptz", r"args\[0\] \(\$1, timestamptz\)"), ("ten", "numeric", r"args\[0\] \(\$1, numeric\)")],
)
def test_an_unconvertible_argument_is_named(value: str, type_name: str, where: str) -> None:
    with pytest.raises(ValueError, match=where):
        to_pg_args([value], [type_name])
