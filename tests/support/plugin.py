"""Project pytest plugin: ``--require-services`` and per-marker summary.

Service fixtures (PostgreSQL, OpenBao, Consul, Kafka) live in
``tests.support.provisioning.services`` and are re-exported here so every test sees them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from onex_host.core.scrubbing import forget_secrets

pytest_plugins = ["tests.support.provisioning.services", "tests.support.provisioning.tracing_backend"]

SERVICE_MARKERS = (
    "postgres",
    "vault",
    "consul",
    "kafka",
    "http",
    "llm",
    "tracing",
    "appliance",
    "observability",
    "containers",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-services",
        action="store_true",
        default=False,
        help="fail, instead of skipping, a test whose backing service cannot be provided",
    )


_outcomes: Counter[tuple[str, str]] = Counter()


@pytest.fixture(autouse=True)
def _no_secrets_from_earlier_tests() -> Iterator[None]:
    """The scrubber's registry is process-wide, as in a host; each test starts with only the secrets it registers."""
    forget_secrets()
    yield
    forget_secrets()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Count by real markers only (also those a service fixture adds), never by test ids or names."""
    report: pytest.TestReport = yield
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        names = {mark.name for mark in item.iter_markers()}
        for marker in SERVICE_MARKERS:
            if marker in names:
                _outcomes[(marker, report.outcome)] += 1
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _outcomes:
        return
    terminalreporter.section("tests per service marker")
    for marker in SERVICE_MARKERS:
        counts = {outcome: _outcomes[(marker, outcome)] for outcome in ("passed", "failed", "skipped")}
        if any(counts.values()):
            terminalreporter.write_line(
                f"{marker:>10}: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
            )
