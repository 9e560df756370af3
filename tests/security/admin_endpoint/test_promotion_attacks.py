"""Attacks on ``POST /admin/promote``: who can promote a standby host, how, and what leaks.

A real ``RuntimeHostProcess`` (memory bus, local handler) started in standby
on loopback ports. A promotion is visible from outside: a command queued on
the bus gets its reply only once the host consumes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onex_host.core.errors import ContractError
from onex_host.core.file_registry import load_host
from onex_host.infra.bus.memory import MemoryEventBus
from onex_host.infra.http_api import PromoteRequest, parse_promote_request
from onex_host.infra.process import RuntimeHostProcess
from onex_host.infra.promotion import PromotionOutcome
from tests.support.builders.factories import command
from tests.unit.infra.test_process import write_host

API_TOKEN = "api-token-5f1e2d"
ADMIN_TOKEN = "admin-token-9c4b7a0e"
NOT_CONSUMING_S = 0.3
"""How long a queued command must stay unanswered to count as not consumed: the memory bus answers in microseconds."""


def standby_host(tmp_path: Path, admin_token: str = ADMIN_TOKEN) -> RuntimeHostProcess:
    return RuntimeHostProcess(
        load_host(write_host(tmp_path, token=API_TOKEN, admin_token=admin_token), env={}), standby=True
    )


@pytest.fixture
async def standby(tmp_path: Path) -> AsyncIterator[RuntimeHostProcess]:
    process = standby_host(tmp_path)
    await process.start()
    yield process
    await process.stop()


def _url(process: RuntimeHostProcess, path: str, name: str = "health") -> str:
    host, port = process.endpoints.addresses[name]
    return f"http://{host}:{port}{path}"


async def _promote(
    process: RuntimeHostProcess, authorization: str | None = f"Bearer {ADMIN_TOKEN}", query: str = "", body: bytes = b""
) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with httpx.AsyncClient() as client:
        return await client.post(_url(process, f"/admin/promote{query}"), headers=headers, content=body)


def _bus(process: RuntimeHostProcess) -> MemoryEventBus:
    assert isinstance(process.bus, MemoryEventBus)
    return process.bus


async def _consumes(process: RuntimeHostProcess) -> bool:
    """Queue one command: True when its reply arrives, False when it stays unanswered (standby)."""
    bus = _bus(process)
    await bus.publish(command(payload={"probe": True}))
    try:
        async with asyncio.timeout(NOT_CONSUMING_S):
            await bus.next_reply()
    except TimeoutError:
        return False
    return True


async def test_a_standby_host_is_ready_but_consumes_nothing(standby: RuntimeHostProcess) -> None:
    async with httpx.AsyncClient() as client:
        ready = await client.get(_url(standby, "/health/ready"))
        summary = await client.get(_url(standby, "/health"))
    assert ready.status_code == 200
    assert ready.json()["bus"]["details"]["standby"] is True
    assert summary.json()["standby"] is True
    assert not await _consumes(standby)


async def test_the_admin_token_promotes_and_the_queued_command_is_answered(standby: RuntimeHostProcess) -> None:
    bus = _bus(standby)
    waiting = command(payload={"queued": "before promotion"})
    await bus.publish(waiting)
    response = await _promote(standby)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "promoted"
    async with asyncio.timeout(5):
        reply = await bus.next_reply()
    assert reply.correlation_id == waiting.correlation_id
    async with httpx.AsyncClient() as client:
        ready = await client.get(_url(standby, "/health/ready"))
    assert "standby" not in ready.json()["bus"]["details"]
    assert not standby.promotion.standby


async def test_onex_standby_is_1_until_the_promotion(standby: RuntimeHostProcess) -> None:
    async def sample() -> str:
        async with httpx.AsyncClient() as client:
            text = (await client.get(_url(standby, "/metrics", "metrics"))).text
        return next(line for line in text.splitlines() if line.startswith("onex_standby{"))

    assert await sample() == 'onex_standby{mode="primary"} 1.0'
    await _promote(standby)
    assert await sample() == 'onex_standby{mode="primary"} 0.0'


async def test_a_replayed_promotion_changes_nothing(standby: RuntimeHostProcess) -> None:
    first, replay = await _promote(standby), await _promote(standby)
    assert (first.status_code, first.json()["outcome"]) == (200, "promoted")
    assert (replay.status_code, replay.json()["outcome"]) == (200, "already_active")
    assert await _consumes(standby)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        f"Bearer {ADMIN_TOKEN}x",
        f"Bearer {ADMIN_TOKEN[:-1]}",
        f"Basic {ADMIN_TOKEN}",
        ADMIN_TOKEN,
        f"Bearer {API_TOKEN}",  # the envelope API's token is not an admin token
        "Bearer " + ADMIN_TOKEN.upper(),
    ],
)
async def test_anything_but_the_admin_token_is_refused(standby: RuntimeHostProcess, authorization: str | None) -> None:
    response = await _promote(standby, authorization=authorization)
    assert response.status_code == 401
    assert ADMIN_TOKEN not in response.text
    assert standby.promotion.standby
    assert not await _consumes(standby)


@pytest.mark.parametrize(
    ("query", "authorization"),
    [
        (f"?token={ADMIN_TOKEN}", None),
        (f"?access_token={ADMIN_TOKEN}", None),
        (f"?token={ADMIN_TOKEN}", f"Bearer {ADMIN_TOKEN}"),  # even with the right header: the URL leaked it
        ("?handover_from_group=legacy", f"Bearer {ADMIN_TOKEN}"),
    ],
)
async def test_a_query_string_is_refused_before_the_token_is_looked_at(
    standby: RuntimeHostProcess, query: str, authorization: str | None
) -> None:
    response = await _promote(standby, authorization=authorization, query=query)
    assert response.status_code == 400
    assert "query parameters are not accepted" in response.json()["error"]
    assert standby.promotion.standby


async def test_without_an_admin_token_there_is_no_admin_endpoint(tmp_path: Path) -> None:
    for no_token in ("null", '""'):
        process = RuntimeHostProcess(load_host(write_host(tmp_path, token=API_TOKEN, admin_token=no_token), env={}))
        await process.start()
        try:
            for authorization in (None, f"Bearer {API_TOKEN}", "Bearer"):
                assert (await _promote(process, authorization=authorization)).status_code == 404
        finally:
            await process.stop()


def test_a_standby_without_an_admin_token_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ContractError) as refused:
        standby_host(tmp_path, admin_token="null")
    assert refused.value.problems[0].field == "health_endpoint.admin_token"
    assert "could never be promoted" in refused.value.problems[0].message


def test_the_admin_token_may_not_be_the_envelope_api_token(tmp_path: Path) -> None:
    with pytest.raises(ContractError) as refused:
        load_host(write_host(tmp_path, token=API_TOKEN, admin_token=API_TOKEN), env={})
    message = str(refused.value)
    assert "admin_token must differ from bearer_token" in message
    assert API_TOKEN not in message


async def test_nothing_on_the_envelope_api_or_the_bus_promotes(standby: RuntimeHostProcess) -> None:
    attempts = [
        command("admin", "promote"),
        command("echo", "promote"),
        command(None, "promote"),
        command("echo", "echo", {"admin_token": ADMIN_TOKEN, "promote": True}),
    ]
    async with httpx.AsyncClient() as client:
        for envelope in attempts:
            for authorization in (f"Bearer {API_TOKEN}", f"Bearer {ADMIN_TOKEN}"):
                await client.post(
                    _url(standby, "/v1/envelopes"),
                    content=envelope.to_wire(),
                    headers={"Authorization": authorization},
                )
            await _bus(standby).publish(envelope)
    assert standby.promotion.standby
    assert not await _consumes(standby)


async def test_promotion_is_refused_once_the_host_is_stopping(tmp_path: Path) -> None:
    process = standby_host(tmp_path)
    await process.start()
    stopping = asyncio.create_task(process.stop())
    await asyncio.sleep(0)  # stop() has begun: the host counts as stopping from its first step
    result = await process.promote()
    await stopping
    assert (result.outcome, result.detail) == (PromotionOutcome.NOT_NOW, "the host is stopping")
    assert _bus(process).health().details.get("standby") is True  # never started


async def test_a_shutdown_waits_for_a_promotion_in_flight(standby: RuntimeHostProcess) -> None:
    promoting = asyncio.create_task(_promote(standby))
    while not standby.promotion._lock.locked() and not promoting.done():
        await asyncio.sleep(0.001)
    await standby.stop()
    assert (await promoting).status_code in (200, 503)
    assert _bus(standby).health().ready is False  # whatever the race decided, the bus ends stopped


async def test_the_admin_token_never_leaks(standby: RuntimeHostProcess, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen = []
    for authorization in (f"Bearer {ADMIN_TOKEN}x", f"Bearer {ADMIN_TOKEN}", f"Bearer {ADMIN_TOKEN}"):
        seen.append((await _promote(standby, authorization=authorization)).text)
    seen.append((await _promote(standby, query=f"?token={ADMIN_TOKEN}")).text)
    seen.append((await _promote(standby, body=b'{"handover_from_group": "x y"}')).text)
    async with httpx.AsyncClient() as client:
        for path, name in (("/health", "health"), ("/health/ready", "health"), ("/metrics", "metrics")):
            seen.append((await client.get(_url(standby, path, name))).text)
    # The host's records (and aiohttp's); the test client's own httpx log shows the URL this test chose to leak.
    host_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert host_records
    seen.extend(record.getMessage() + repr(record.__dict__) for record in host_records)
    assert not [text for text in seen if ADMIN_TOKEN in text]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"wait_idle_seconds": 5}', "wait_idle_seconds needs handover_from_group"),
        (b'{"handover_from_group": "legacy", "wait_idle_seconds": 901}', "wait_idle_seconds"),
        (b'{"handover_from_group": "legacy", "wait_idle_seconds": -1}', "wait_idle_seconds"),
        (b'{"handover_from_group": "legacy", "wait_idle_seconds": 1e999}', "wait_idle_seconds"),
        (b'{"handover_from_group": ""}', "handover_from_group"),
        (b'{"handover_from_group": "two words"}', "handover_from_group"),
        (b'{"promote": true}', "promote: unknown field"),
        (b"[]", "body"),
    ],
)
async def test_a_bad_body_is_a_400_naming_the_field(standby: RuntimeHostProcess, body: bytes, problem: str) -> None:
    response = await _promote(standby, body=body)
    assert response.status_code == 400
    assert problem in response.json()["error"]
    assert standby.promotion.standby


async def test_a_handover_on_a_bus_without_groups_is_a_409_and_leaves_the_standby(
    standby: RuntimeHostProcess,
) -> None:
    response = await _promote(standby, body=b'{"handover_from_group": "legacy"}')
    assert response.status_code == 409
    assert "needs a kafka event bus" in response.json()["detail"]
    assert standby.promotion.standby


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=20), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=300) | json_values.map(lambda v: __import__("json").dumps(v).encode()))
def test_any_body_is_a_request_or_one_clear_line(body: bytes) -> None:
    parsed = parse_promote_request(body)
    if isinstance(parsed, str):
        assert parsed.startswith("invalid promote request: ")
        assert "\n" not in parsed
    else:
        assert isinstance(parsed, PromoteRequest)
        group = parsed.handover_from_group
        assert group is None or (0 < len(group) <= 255 and group.isascii() and group.isprintable() and " " not in group)


async def test_a_bus_that_does_not_start_is_no_promotion(
    standby: RuntimeHostProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a Kafka bus whose brokers refuse the credentials: it stays up, unready, with an error; not joined."""
    from onex_host.core.operation import ModelBusHealth

    refused = ModelBusHealth(bus_type="kafka", live=True, ready=False, details={"error": "SaslAuthenticationFailed"})

    async def start_refused(on_envelope: object) -> None:
        return None

    monkeypatch.setattr(_bus(standby), "start", start_refused)
    monkeypatch.setattr(_bus(standby), "health", lambda: refused)
    response = await _promote(standby)
    assert response.status_code == 503
    assert response.json()["detail"] == "joining failed: the event bus did not start: SaslAuthenticationFailed"
    assert standby.promotion.standby
