"""Real servers run as plain child processes on free loopback ports: no container engine needed.

Each class starts on ``start()`` (or ``with``), blocks until the server answers,
and removes its temp dir on ``close()``. ``make services`` installs what they run.
Plain Python, no pytest: the benchmark suite starts the same servers.
"""

from tests.support.native._process import (
    SERVICES_DIR,
    NativeServer,
    ServiceNotInstalledError,
    ServiceStartError,
    free_port,
    free_ports,
    http_ok,
    wait_until,
)
from tests.support.native.consul import NativeConsul
from tests.support.native.kafka import NativeKafka
from tests.support.native.openbao import NativeOpenBao
from tests.support.native.postgres import NativePostgres

__all__ = [
    "SERVICES_DIR",
    "NativeConsul",
    "NativeKafka",
    "NativeOpenBao",
    "NativePostgres",
    "NativeServer",
    "ServiceNotInstalledError",
    "ServiceStartError",
    "free_port",
    "free_ports",
    "http_ok",
    "wait_until",
]
