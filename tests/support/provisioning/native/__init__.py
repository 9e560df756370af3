"""Real servers run as plain child processes on free loopback ports: no container engine needed.

Each class starts on ``start()`` (or ``with``), blocks until the server answers,
and removes its temp dir on ``close()``. ``make services`` installs what they run.
Plain Python, no pytest: the benchmark suite starts the same servers.
"""

from tests.support.provisioning.native._process import (
    SERVICES_DIR,
    NativeServer,
    ServiceNotInstalledError,
    ServiceStartError,
    free_port,
    free_ports,
    http_ok,
    wait_until,
)
from tests.support.provisioning.native.consul import NativeConsul
from tests.support.provisioning.native.kafka import NativeKafka
from tests.support.provisioning.native.openbao import NativeOpenBao
from tests.support.provisioning.native.postgres import NativePostgres

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
