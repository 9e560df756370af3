"""``BENCH_*`` variables: documented defaults, and one clear error naming a bad variable."""

from __future__ import annotations

import pytest
from bench.settings import FULL, QUICK, SettingsError, from_env


def test_defaults_without_variables() -> None:
    assert from_env({}) == FULL
    assert from_env({}, quick=True) == QUICK


def test_full_defaults_give_at_least_three_repetitions_and_ten_thousand_latency_samples() -> None:
    assert FULL.repeats >= 3
    assert FULL.rtt_seconds * 1_000 >= 10_000


def test_variables_override_each_setting() -> None:
    settings = from_env(
        {
            "BENCH_REPEATS": "5",
            "BENCH_KAFKA_COMMANDS": "20_000",
            "BENCH_RTT_SECONDS": "10.5",
            "BENCH_KAFKA_WARMUP_COMMANDS": "0",
            "BENCH_KAFKA_SERVICES": "onex, raw_aiokafka,",
        }
    )
    assert (settings.repeats, settings.kafka_commands, settings.rtt_seconds) == (5, 20_000, 10.5)
    assert settings.warmup_commands == 0
    assert settings.kafka_services == ("onex", "raw_aiokafka")
    assert settings.partial


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BENCH_REPEATS", "three", "BENCH_REPEATS='three': expected an integer"),
        ("BENCH_REPEATS", "0", "BENCH_REPEATS='0': must be at least 1"),
        ("BENCH_RTT_SECONDS", "fast", "BENCH_RTT_SECONDS='fast': expected a number"),
        ("BENCH_KAFKA_COMMANDS", "2.5", "BENCH_KAFKA_COMMANDS='2.5': expected an integer"),
    ],
)
def test_a_bad_variable_is_named_in_the_error(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        from_env({name: value})
    assert str(caught.value) == message
