"""The trace backend of the test session: a real Zipkin server, started on first use.

``ONEX_TEST_ZIPKIN_URL`` points at one that already runs (its query API and
``/api/v2/spans`` on that address); otherwise the native server from the jar
``make services`` installed. Missing, the test is skipped, or failed under
``--require-services``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.provisioning.native._process import ServiceStartError
from tests.support.provisioning.native.zipkin import NativeZipkin
from tests.support.provisioning.prerequisites import unavailable


@pytest.fixture(scope="session")
def zipkin_service(request: pytest.FixtureRequest) -> Iterator[str]:
    """The Zipkin base URL (``http://127.0.0.1:PORT``)."""
    configured = os.environ.get("ONEX_TEST_ZIPKIN_URL")
    if configured:
        yield configured.rstrip("/")
        return
    try:
        server = NativeZipkin()
        server.start()
    except ServiceStartError as exc:
        unavailable(request.config, f"zipkin: {exc}")
    try:
        yield server.url
    finally:
        server.close()
