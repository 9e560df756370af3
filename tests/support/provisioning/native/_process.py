"""What every native server shares: free loopback ports, a supervised child process, readiness polling.

Plain Python (no pytest) so the benchmark suite can start the same servers.
Children get a parent-death signal, so a test session that is killed outright
does not leave brokers and databases running on the machine. Linux sends it
when the *thread* that started the child ends, so every child is started from
one spawner thread that lives as long as the interpreter: a server restarted
from ``asyncio.to_thread`` or any short-lived worker is not killed with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO, Self

SERVICES_DIR = Path(os.environ.get("ONEX_SERVICES_DIR") or Path.home() / ".cache" / "onex-host" / "services")
"""Where ``scripts/services/install.sh`` puts Consul and Kafka."""

LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="native-service-spawner")
"""Its one worker thread never exits before the interpreter does: the children's parent-death anchor."""


class ServiceStartError(RuntimeError):
    """A native server could not be started or did not become ready in time."""


class ServiceNotInstalledError(ServiceStartError):
    """A binary the server needs is absent; ``make services`` installs it."""


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (the kernel picks it, so parallel runs rarely collide)."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports: all are held open until all are picked, so none repeats."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((LOOPBACK, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def free_port_pair() -> int:
    """A free port ``p`` whose neighbour ``p + 1`` is free too (OpenBao puts its cluster listener there)."""
    for _ in range(50):
        port = free_port()
        if port < 65535 and _is_free(port + 1):
            return port
    raise ServiceStartError("found no two adjacent free loopback ports in 50 tries")


def wait_until(ready: Callable[[], bool], *, timeout: float, what: str, process: ManagedProcess | None = None) -> None:
    """Poll ``ready`` until it returns True; fail early if ``process`` dies, with its log tail."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and not process.running:
            raise ServiceStartError(f"{what}: process exited with code {process.returncode}\n{process.log_tail()}")
        with contextlib.suppress(OSError):
            if ready():
                return
        if time.monotonic() > deadline:
            tail = process.log_tail() if process is not None else ""
            raise ServiceStartError(f"{what}: not ready after {timeout:.0f}s\n{tail}".rstrip())
        time.sleep(0.2)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when GET ``url`` answers 2xx (urllib raises, and :func:`wait_until` retries, on anything else)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        status: int = response.status
        return 200 <= status < 300


def find_executable(name: str, *candidates: Path) -> Path:
    """``name`` from ``candidates`` first (the install cache), then from PATH."""
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is None:
        places = ", ".join(str(c) for c in candidates) or "nowhere else"
        raise ServiceNotInstalledError(f"{name} not found in PATH or {places}; run `make services`")
    return Path(found)


def _die_with_parent(sig: int) -> Callable[[], None]:
    def preexec() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)

    return preexec


class ManagedProcess:
    """One server child process whose stdout and stderr go to a log file."""

    def __init__(
        self,
        argv: Sequence[str | Path],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self._log_path = log_path
        self._stop_signal = stop_signal
        self._log: IO[bytes] = log_path.open("ab")
        try:
            self._popen = _SPAWNER.submit(
                subprocess.Popen,
                [str(arg) for arg in argv],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=None if env is None else dict(env),
                cwd=cwd,
                user=user,
                preexec_fn=_die_with_parent(stop_signal),
            ).result()
        except OSError as exc:
            self._log.close()
            raise ServiceStartError(f"cannot run {argv[0]}: {exc}") from exc

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def running(self) -> bool:
        return self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self._log_path.read_text(errors="replace")
        except OSError:
            return ""
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- last lines of {self._log_path} ---\n{tail}" if tail else ""

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the server to shut down cleanly; kill it when it does not within ``timeout``."""
        if self.running:
            self._popen.send_signal(self._stop_signal)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        self._log.close()

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to flush or deregister."""
        if self.running:
            self._popen.kill()
            self._popen.wait()
        self._log.close()


WORKDIR_PREFIX = "onex-native-"
OWNER_FILE = ".owner-pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True  # also when PermissionError says it exists under another user


def remove_orphaned_workdirs() -> None:
    """Delete temp dirs of native servers whose owning Python process is gone (killed before it could clean up).

    The servers themselves already died with their parent (parent-death signal);
    only their data is left behind.
    """
    for workdir in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*"):
        try:
            owner = int((workdir / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not _alive(owner):
            shutil.rmtree(workdir, ignore_errors=True)


class NativeServer(ABC):
    """Base of the native servers: a temp dir, start/stop, and context-manager use.

    ``start()`` blocks until the server answers a real request or raises
    :class:`ServiceStartError` naming the server and quoting its log.
    """

    name: str = "server"

    def __init__(self, *, startup_timeout: float = 60.0) -> None:
        self.startup_timeout = startup_timeout
        self._workdir: Path | None = None
        self._process: ManagedProcess | None = None

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            remove_orphaned_workdirs()
            self._workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{self.name}-"))
            (self._workdir / OWNER_FILE).write_text(str(os.getpid()))
        return self._workdir

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self) -> None:
        if self.running:
            return
        self._process = self._spawn()
        try:
            self._wait_ready(self._process)
        except BaseException:
            self._process.kill()
            raise

    def stop(self) -> None:
        """Stop the process; the data dir stays until :meth:`close`."""
        if self._process is not None:
            self._process.stop()
            self._process = None

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process = None

    def close(self) -> None:
        """Stop the server and remove its temp dir."""
        self.stop()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @abstractmethod
    def _spawn(self) -> ManagedProcess:
        """Start the server process (not waiting for readiness)."""

    @abstractmethod
    def _wait_ready(self, process: ManagedProcess) -> None:
        """Block until the server serves requests."""
