"""Runs ``onex-host run`` as a real subprocess for black-box tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import httpx

ONEX_HOST = Path(sys.executable).with_name("onex-host")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class HostProcess:
    """One ``onex-host run`` on free loopback ports; stderr is kept in a file for diagnosis."""

    def __init__(
        self, contract: Path | None, log_dir: Path, env: dict[str, str] | None = None, extra_args: Sequence[str] = ()
    ) -> None:
        self.health_port = free_port()
        self.metrics_port = free_port()
        self.log_path = log_dir / f"host-{self.health_port}.log"
        args = [str(ONEX_HOST), "run"]
        if contract is not None:
            args.append(str(contract))
        args += [
            "--health-port",
            str(self.health_port),
            "--metrics-port",
            str(self.metrics_port),
            "--log-format",
            "json",
            *extra_args,
        ]
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def inflight(self) -> float:
        """``onex_inflight_envelopes`` as the host's /metrics reports it."""
        for line in httpx.get(self.metrics_url, timeout=5).text.splitlines():
            if line.startswith("onex_inflight_envelopes{"):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Seconds until ``/health/ready`` answered 200; raises with the host's log otherwise."""
        return self._wait_for("/health/ready", "ready", timeout)

    def wait_serving(self, timeout: float = 30.0) -> float:
        """Until ``/health/live`` answers 200: started and serving, whether or not its upstreams are healthy."""
        return self._wait_for("/health/live", "serving", timeout)

    def _wait_for(self, path: str, what: str, timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"host exited with {self.proc.returncode} before {what}:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}{path}", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"host not {what} within {timeout}s:\n{self.logs()}")

    def terminate(self, timeout: float = 40.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> HostProcess:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.kill()
        self._log.close()
