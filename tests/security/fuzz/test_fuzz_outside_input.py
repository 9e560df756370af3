"""Property-based fuzzing of everything that parses outside input: no exception escapes, every refusal is clear.

The properties are the guarantees, not examples: whatever the bytes, the
envelope codec yields an envelope or a ``ValidationError``; an envelope that
decodes is answered with a reply that encodes; a path under a prefix either
stays under it or is refused; a URL under a pinned ``base_url`` either stays
on its host and under its path or is refused; a contract file either loads or
is refused with ``file: field: problem`` lines.
"""

from __future__ import annotations

import asyncio
import json
import string
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from onex_host.core import ContractError, EnumErrorCode, ModelOnexEnvelope, load_host
from onex_host.core.errors import OperationError
from onex_host.core.file_registry import load_host as load_host_file
from onex_host.core.loader import parse_yaml_mapping
from onex_host.core.replies import reply_wire
from onex_host.infra.handlers._host_allowlist import HostAllowlist, parse_host_rule
from onex_host.infra.handlers._paths import fully_unquoted, join_paths, normalize_path, within_prefixes
from onex_host.infra.handlers.http import HttpRequestPayload, _target_url
from tests.support.builders.factories import echo_runtime

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
timestamps = st.one_of(
    st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-01-01T00:00:00+14:00", "nonsense"]),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
)
ttls = st.one_of(
    st.none(),
    st.floats(min_value=0.001, max_value=604800),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["Infinity", "-Infinity", "NaN", "1e400", "1e12", "0", "-1"]),
    st.integers(min_value=-(10**20), max_value=10**20),
)


@st.composite
def envelope_documents(draw: st.DrawFn) -> bytes:
    """Mostly-valid envelopes with hostile values in every field, as raw JSON text."""
    fields: dict[str, Any] = {
        "source_node": draw(st.one_of(st.just("probe"), st.text(max_size=20))),
        "target_node": draw(st.one_of(st.none(), st.just("echo"), st.text(max_size=20))),
        "handler_type": draw(st.one_of(st.just("local"), st.text(max_size=8))),
        "operation": draw(st.one_of(st.sampled_from(["echo", "sleep", "fail"]), st.text(max_size=20))),
        "payload": draw(st.one_of(st.dictionaries(st.text(max_size=8), json_values, max_size=4), json_values)),
        "is_response": draw(st.booleans()),
    }
    raw = json.dumps(fields, allow_nan=True)[:-1]
    if draw(st.booleans()):
        raw += f', "timestamp": {json.dumps(draw(timestamps))}'
    ttl = draw(ttls)
    if ttl is not None:
        raw += f', "ttl_seconds": {ttl if isinstance(ttl, str) else json.dumps(ttl, allow_nan=True)}'
    if draw(st.booleans()):
        depth = draw(st.integers(min_value=1, max_value=5000))
        raw += ', "metadata": {"deep": ' + "[" * depth + "]" * depth + "}"
    return (raw + "}").encode()


@FUZZ
@given(st.one_of(envelope_documents(), st.binary(max_size=2000)))
def test_the_envelope_codec_returns_an_envelope_or_a_validation_error(data: bytes) -> None:
    try:
        envelope = ModelOnexEnvelope.from_wire(data)
    except ValidationError:
        return
    envelope.remaining_seconds()
    envelope.is_expired()
    assert ModelOnexEnvelope.from_wire(envelope.to_wire()) == envelope


@FUZZ
@given(envelope_documents())
def test_every_envelope_that_decodes_is_answered_with_a_reply_that_encodes(data: bytes) -> None:
    try:
        envelope = ModelOnexEnvelope.from_wire(data)
    except ValidationError:
        return

    async def route() -> ModelOnexEnvelope:
        runtime = await echo_runtime("echo")
        try:
            return await runtime.route_envelope(envelope)
        finally:
            await runtime.shutdown()

    reply = asyncio.run(route())
    wire = reply_wire(envelope, reply)

    decoded = ModelOnexEnvelope.from_wire(wire)
    assert decoded.is_response
    assert decoded.correlation_id == envelope.correlation_id
    assert decoded.success or decoded.error_code in set(EnumErrorCode)


segments = st.text(alphabet=string.ascii_letters + string.digits + "./%\\-_ \x00\x7f~:@?#", max_size=12)
paths = st.lists(segments, max_size=5).map("/".join)


@FUZZ
@given(paths)
def test_a_path_joined_under_a_prefix_stays_under_it_or_is_refused(requested: str) -> None:
    try:
        path = join_paths("apps/onex", requested)
    except ValueError as exc:
        assert "segment" in str(exc)
        return
    assert within_prefixes(path, ["apps/onex"])
    assert not within_prefixes(path, ["apps/onex-admin"])
    for segment in path.split("/"):
        decoded = fully_unquoted(segment)
        assert decoded not in ("", ".", "..")
        assert "/" not in decoded
        assert "\\" not in decoded
    assert normalize_path(path) == path


@FUZZ
@given(paths)
def test_a_path_under_a_pinned_base_url_stays_on_its_host_and_under_its_path(path: str) -> None:
    base = "http://api.internal:8080/v1/items"
    payload = HttpRequestPayload.model_validate({"path": path})
    try:
        url = _target_url(payload, base)
    except OperationError as exc:
        assert exc.code is EnumErrorCode.INVALID_PAYLOAD
        assert "payload.path" in exc.message
        return
    parsed = httpx.URL(url)
    assert (parsed.scheme, parsed.host, parsed.port) == ("http", "api.internal", 8080)
    decoded = fully_unquoted(parsed.path)
    assert decoded == "/v1/items" or decoded.startswith("/v1/items/")
    assert ".." not in decoded.split("/")


@FUZZ
@given(st.text(max_size=40))
def test_an_allow_list_entry_parses_or_is_refused_with_a_reason(entry: str) -> None:
    try:
        parse_host_rule(entry)
    except ValueError as exc:
        assert "port" in str(exc) or "not a host" in str(exc)


hosts = st.text(alphabet=string.ascii_lowercase + string.digits + ".-[]:*", min_size=1, max_size=20)


@FUZZ
@given(hosts, st.integers(min_value=1, max_value=65535))
def test_an_empty_allow_list_allows_nothing_and_a_named_host_only_itself(host: str, port: int) -> None:
    try:
        url = httpx.URL(f"http://{host}:{port}/")
    except (httpx.InvalidURL, ValueError):
        return
    assert not HostAllowlist([]).allows(url)
    only = HostAllowlist(["api.example.com"])
    assert only.allows(url) == (url.host.rstrip(".") == "api.example.com")


yaml_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)
host_keys = st.sampled_from(
    ["name", "environment", "nodes", "handlers", "event_bus", "health_endpoint", "metrics_endpoint", "x"]
)


@FUZZ
@given(st.one_of(st.text(max_size=300), st.dictionaries(host_keys, yaml_documents, max_size=6).map(yaml.safe_dump)))
@pytest.mark.filterwarnings("ignore")
def test_a_contract_file_loads_or_is_refused_with_field_lines(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path: Path = tmp_path_factory.mktemp("contract") / "host.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        parse_yaml_mapping(path)
        load_host_file(path, env={})
    except ContractError as exc:
        assert exc.problems
        assert all(str(problem).startswith(str(path)) for problem in exc.problems)


def test_load_host_is_the_loader_the_fuzz_drives() -> None:
    assert load_host is load_host_file
