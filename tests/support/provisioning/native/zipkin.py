"""A Zipkin server (in-memory storage) from the jar ``make services`` resolved from Maven Central.

The host exports its traces to it through OpenTelemetry's Zipkin exporter;
the tests read them back from Zipkin's query API (``/api/v2/trace/{id}``).
"""

from __future__ import annotations

import os

from tests.support.provisioning.native._process import (
    LOOPBACK,
    SERVICES_DIR,
    ManagedProcess,
    NativeServer,
    ServiceNotInstalledError,
    free_port,
    http_ok,
    wait_until,
)

ZIPKIN_VERSION = "3.5.1"
ZIPKIN_JAR = SERVICES_DIR / "zipkin" / ZIPKIN_VERSION / f"zipkin-server-{ZIPKIN_VERSION}-exec.jar"


class NativeZipkin(NativeServer):
    """``java -jar zipkin-server-exec.jar`` bound to one free loopback port, in-memory storage."""

    name = "zipkin"

    def __init__(self, *, startup_timeout: float = 120.0) -> None:
        super().__init__(startup_timeout=startup_timeout)
        if not ZIPKIN_JAR.is_file():
            raise ServiceNotInstalledError(f"no Zipkin server jar at {ZIPKIN_JAR}: run `make services`")
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _spawn(self) -> ManagedProcess:
        argv = [
            "java",
            "-Xms64m",
            "-Xmx256m",
            "-jar",
            str(ZIPKIN_JAR),
            f"--armeria.ports[0].port={self.port}",
            f"--armeria.ports[0].ip={LOOPBACK}",
            "--armeria.ports[0].protocols=http",
        ]
        env = {**os.environ, "QUERY_PORT": str(self.port), "STORAGE_TYPE": "mem"}
        return ManagedProcess(argv, log_path=self.log_path, cwd=self.workdir, env=env)

    def _wait_ready(self, process: ManagedProcess) -> None:
        wait_until(
            lambda: http_ok(f"{self.url}/health"),
            timeout=self.startup_timeout,
            what=f"Zipkin server on {self.url}",
            process=process,
        )
