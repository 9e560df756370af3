"""The arithmetic behind the Kafka echo figures: pacing, throughput from timestamps, round trips."""

from __future__ import annotations

import math

import pytest
from bench.settings import FULL
from bench.workloads.kafka_echo import (
    HOST_IN_FLIGHT,
    SERVICES,
    due_count,
    keys,
    replies_per_second,
    round_trips_ms,
    selected,
    send_lags_ms,
)


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(-0.1, 0), (0.0, 1), (0.0009, 1), (0.001, 2), (0.5, 501), (10.0, 1000)],
)
def test_due_count_sends_on_schedule_and_never_past_the_total(elapsed: float, expected: int) -> None:
    assert due_count(elapsed, rate_per_s=1000, total=1000) == expected


def test_due_count_catches_up_after_a_stall() -> None:
    """A generator that wakes late sends every command it owes at once (open loop)."""
    assert due_count(0.25, rate_per_s=1000, total=10_000) - due_count(0.05, rate_per_s=1000, total=10_000) == 200


def test_replies_per_second_counts_gaps_between_first_and_last() -> None:
    assert replies_per_second(1001, first_ms=5_000, last_ms=6_000) == 1000.0


@pytest.mark.parametrize(("count", "first", "last"), [(1, 0, 10), (100, 10, 10), (100, 20, 10)])
def test_replies_per_second_is_undefined_without_a_span(count: int, first: int, last: int) -> None:
    assert math.isnan(replies_per_second(count, first, last))


def test_round_trips_skip_the_warmup() -> None:
    scheduled = {b"w": 0.0, b"a": 1.0, b"c": 3.0}
    received = {b"w": 0.5, b"a": 1.004, b"c": 3.010}
    assert [round(ms, 3) for ms in round_trips_ms(scheduled, received, gave_up_at=20.0, skip=1)] == [4.0, 10.0]


def test_a_missing_reply_counts_as_the_whole_wait_not_as_a_dropped_sample() -> None:
    """Losing replies must never make the percentiles look better."""
    scheduled = {b"a": 1.0, b"b": 2.0, b"c": 3.0}
    received = {b"a": 1.004, b"c": 3.010}
    assert [round(ms, 3) for ms in round_trips_ms(scheduled, received, gave_up_at=20.0)] == [4.0, 18_000.0, 10.0]


def test_send_lag_is_how_late_the_generator_sent() -> None:
    scheduled = {b"w": 0.0, b"a": 1.0, b"b": 2.0}
    sent = {b"w": 0.9, b"a": 1.0005, b"b": 2.003}
    assert [round(ms, 3) for ms in send_lags_ms(scheduled, sent, skip=1)] == [0.5, 3.0]


def test_only_the_onex_round_trip_keys_carry_no_service_name() -> None:
    measured = {
        "throughput_per_s": 10.0,
        "throughput_replies": 5.0,
        "rtt_p50": 1.0,
        "rtt_p99": 2.0,
        "rtt_samples": 12_000.0,
        "rtt_offered_per_s": 999.0,
        "rtt_missing": 0.0,
        "rtt_send_lag_p99": 0.4,
        "rtt_send_lag_max": 3.0,
    }
    assert keys("onex", measured)["kafka_rtt_p99_ms_at_1000_per_s"] == 2.0
    assert keys("onex", measured)["kafka_echo_onex_per_s"] == 10.0
    assert keys("faststream", measured)["kafka_rtt_faststream_p99_ms_at_1000_per_s"] == 2.0
    assert "kafka_rtt_p99_ms_at_1000_per_s" not in keys("faststream", measured)


def test_every_baseline_the_targets_need_is_a_service() -> None:
    assert {
        "onex",
        "onex_exactly_once",
        "raw_aiokafka",
        f"raw_aiokafka_in_flight_{HOST_IN_FLIGHT}",
        "faststream",
        "faststream_per_message",
    } <= set(SERVICES)


def test_an_unknown_service_is_named() -> None:
    from dataclasses import replace

    with pytest.raises(ValueError, match=r"BENCH_KAFKA_SERVICES: unknown service\(s\) \['onexx'\]"):
        selected(replace(FULL, kafka_services=("onex", "onexx")))
    assert selected(replace(FULL, kafka_services=("onex",))) == ["onex"]
