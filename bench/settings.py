"""How long and how often ``make bench`` measures: documented defaults, overridable by environment variables.

| variable | default (``--quick``) | what |
| --- | --- | --- |
| ``BENCH_REPEATS`` | 3 (2) | repetitions of every workload; each key is the median, with min/max |
| ``BENCH_KAFKA_COMMANDS`` | 30,000 (5,000) | commands per sustained-throughput run |
| ``BENCH_RTT_SECONDS`` | 10 (3) | measured seconds at 1,000 commands/s (10 s: 10,000 samples) |
| ``BENCH_KAFKA_WARMUP_COMMANDS`` | 10,000 (2,000) | commands of the discarded warm-up pass (0: none) |
| ``BENCH_KAFKA_SERVICES`` | every service | comma-separated subset of the Kafka services (partial results) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class SettingsError(ValueError):
    """A ``BENCH_*`` variable that cannot be used, named in the message."""


@dataclass(frozen=True)
class Settings:
    repeats: int
    kafka_commands: int
    rtt_seconds: float
    warmup_commands: int
    kafka_services: tuple[str, ...] | None

    @property
    def partial(self) -> bool:
        """A subset of the services cannot replace the committed ``latest`` figures."""
        return self.kafka_services is not None


FULL = Settings(repeats=3, kafka_commands=30_000, rtt_seconds=10.0, warmup_commands=10_000, kafka_services=None)
QUICK = Settings(repeats=2, kafka_commands=5_000, rtt_seconds=3.0, warmup_commands=2_000, kafka_services=None)


def _number(environ: Mapping[str, str], name: str, default: float, *, minimum: float, integer: bool) -> float:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.replace("_", "")) if integer else float(raw)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise SettingsError(f"{name}={raw!r}: expected {kind}") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r}: must be at least {minimum:g}")
    return value


def from_env(environ: Mapping[str, str] | None = None, *, quick: bool = False) -> Settings:
    """The settings for this run: ``--quick``'s or the full defaults, each overridden by its variable."""
    env = os.environ if environ is None else environ
    base = QUICK if quick else FULL
    services_raw = env.get("BENCH_KAFKA_SERVICES", "").strip()
    services = tuple(name.strip() for name in services_raw.split(",") if name.strip()) or None
    return Settings(
        repeats=int(_number(env, "BENCH_REPEATS", base.repeats, minimum=1, integer=True)),
        kafka_commands=int(_number(env, "BENCH_KAFKA_COMMANDS", base.kafka_commands, minimum=100, integer=True)),
        rtt_seconds=_number(env, "BENCH_RTT_SECONDS", base.rtt_seconds, minimum=1, integer=False),
        warmup_commands=int(_number(env, "BENCH_KAFKA_WARMUP_COMMANDS", base.warmup_commands, minimum=0, integer=True)),
        kafka_services=services,
    )
