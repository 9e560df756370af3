"""The provider chain behind every service fixture: environment, then containers, then native processes.

Each provider either returns an endpoint (registering its cleanup on the
session's exit stack) or raises :class:`ServiceUnavailable` saying why; the
first one that delivers wins. When none does, the test is skipped, or failed
under ``--require-services``, with every provider's reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Generic, NoReturn, TypeVar

import pytest

logger = logging.getLogger("onex.tests.services")

T = TypeVar("T")


class ServiceUnavailable(Exception):
    """This provider cannot supply the service here; the next one is tried."""


class ServiceMisconfigured(Exception):
    """The environment names an endpoint that does not work: never silently replaced by another provider."""


@dataclass(frozen=True)
class Provider(Generic[T]):
    name: str
    provide: Callable[[ExitStack], T]


@dataclass(frozen=True)
class Provision:
    service: str
    provider: str
    where: str


PROVISIONS: list[Provision] = []
"""What this session used, for the terminal summary."""


def provide_service(
    service: str,
    providers: Sequence[Provider[T]],
    stack: ExitStack,
    *,
    required: bool,
    describe: Callable[[T], str] = str,
) -> T:
    """The first endpoint a provider delivers; otherwise skip (or fail when ``required``) naming what was tried."""
    reasons: list[str] = []
    for provider in providers:
        try:
            endpoint = provider.provide(stack)
        except ServiceUnavailable as exc:
            reasons.append(f"{provider.name}: {exc}")
            continue
        except ServiceMisconfigured as exc:
            pytest.fail(f"{service}: {provider.name}: {exc}", pytrace=False)
        where = describe(endpoint)
        logger.info("%s: using %s provider at %s", service, provider.name, where)
        PROVISIONS.append(Provision(service, provider.name, where))
        return endpoint
    _give_up(service, reasons, required=required)


def _give_up(service: str, reasons: Sequence[str], *, required: bool) -> NoReturn:
    message = f"no {service} server available; tried " + "; ".join(reasons)
    if required:
        pytest.fail(f"{message} (--require-services is set)", pytrace=False)
    pytest.skip(message)
