"""PostgreSQL values to and from the JSON an envelope can carry.

Results: asyncpg returns ``Decimal``, ``UUID``, ``datetime``, ``bytes``,
ranges, network addresses and nested arrays/records; a reply must be plain
JSON, so each becomes its canonical text (``Decimal`` as a string, so no
precision is lost; ``bytes`` as base64; ``timedelta`` as seconds).

Arguments: JSON has no dates, decimals or UUIDs, so a string argument is
converted to what the prepared statement declares for that parameter
(``$1::timestamptz`` gets a ``datetime``); anything else is passed as is and
asyncpg reports a mismatch as a ``DataError``.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import asyncpg

JsonSafe = None | bool | int | float | str | list["JsonSafe"] | dict[str, "JsonSafe"]


def row_to_json(record: Mapping[str, Any]) -> dict[str, JsonSafe]:
    return {key: to_json(value) for key, value in record.items()}


def to_json(value: Any) -> JsonSafe:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, asyncpg.Range):
        return {
            "lower": to_json(value.lower),
            "upper": to_json(value.upper),
            "lower_inc": value.lower_inc,
            "upper_inc": value.upper_inc,
            "empty": value.isempty,
        }
    if isinstance(value, list | tuple):  # arrays, and records (composite types) as positional lists
        return [to_json(v) for v in value]
    return str(value)  # UUID, IP addresses and networks, bit strings, geometric types: their text form


def _parse_datetime(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _parse_decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None


_FROM_TEXT: dict[str, Callable[[str], Any]] = {
    "timestamptz": _parse_datetime,
    "timestamp": _parse_datetime,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "timetz": dt.time.fromisoformat,
    "numeric": _parse_decimal,
    "uuid": uuid.UUID,
    "inet": ipaddress.ip_interface,
    "cidr": ipaddress.ip_network,
    "bytea": lambda text: base64.b64decode(text, validate=True),
}


def to_pg_args(args: Sequence[Any], parameter_types: Sequence[str]) -> list[Any]:
    """Convert JSON arguments to what the statement declares; raises ``ValueError`` naming the argument."""
    converted: list[Any] = []
    for index, (value, type_name) in enumerate(zip(args, parameter_types, strict=False), start=1):
        parse = _FROM_TEXT.get(type_name)
        if parse is not None and isinstance(value, str):
            try:
                value = parse(value)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"args[{index - 1}] (${index}, {type_name}): {exc}") from None
        elif type_name == "numeric" and isinstance(value, float):
            value = Decimal(str(value))
        converted.append(value)
    return converted
