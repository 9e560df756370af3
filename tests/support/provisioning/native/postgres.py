"""A throwaway PostgreSQL cluster from Debian's server binaries (``initdb`` + ``postgres``).

PostgreSQL refuses to run as root, so under root the cluster runs as the
``postgres`` system user the Debian package creates.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from tests.support.provisioning.native._process import (
    LOOPBACK,
    ManagedProcess,
    NativeServer,
    ServiceNotInstalledError,
    ServiceStartError,
    free_port,
    wait_until,
)

POSTGRES_LIB = Path("/usr/lib/postgresql")

FAST_SETTINGS: Mapping[str, str] = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
"""Durability is pointless for a cluster deleted after the run, and costly on a shared 2-core machine."""


def postgres_bin_dir() -> Path:
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding the server programs."""
    candidates = [d / "bin" for d in POSTGRES_LIB.glob("*") if (d / "bin" / "initdb").is_file()]
    if not candidates:
        raise ServiceNotInstalledError(f"no PostgreSQL server in {POSTGRES_LIB}/<version>/bin; run `make services`")
    return max(candidates, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)


def _server_user() -> str | None:
    """None to run as ourselves; ``postgres`` when we are root (the server will not start as root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceNotInstalledError("running as root and there is no 'postgres' user; run `make services`") from None
    return "postgres"


class NativePostgres(NativeServer):
    """A cluster on a free loopback port whose ``user`` (a superuser) owns ``database``; password auth over TCP."""

    name = "postgres"

    def __init__(
        self,
        *,
        user: str = "onex",
        password: str = "onex",
        database: str = "onex",
        port: int | None = None,
        settings: Mapping[str, str] = FAST_SETTINGS,
        startup_timeout: float = 60.0,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout)
        self.bin_dir = postgres_bin_dir()
        self.run_as = _server_user()
        self.user = user
        self.password = password
        self.database = database
        self.port = port or free_port()
        self.settings = dict(settings)
        self._needs_database = False

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=120, check=False, user=self.run_as, cwd=self.workdir
        )
        if result.returncode != 0:
            raise ServiceStartError(f"{program} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")

    def _init_cluster(self) -> None:
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            os.chown(self.workdir, entry.pw_uid, entry.pw_gid)
        password_file = self.workdir / "pwfile"
        password_file.write_text(self.password)
        password_file.chmod(0o644)  # read by initdb as the server user, then deleted
        try:
            self._run(
                "initdb",
                f"--pgdata={self.data_dir}",
                f"--username={self.user}",
                f"--pwfile={password_file}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
        finally:
            password_file.unlink()

    def _spawn(self) -> ManagedProcess:
        first_start = not (self.data_dir / "PG_VERSION").is_file()
        if first_start:
            self._init_cluster()
        options = {
            "listen_addresses": LOOPBACK,
            "port": str(self.port),
            "unix_socket_directories": str(self.workdir),
            **self.settings,
        }
        argv: list[str | Path] = [self.bin_dir / "postgres", "-D", self.data_dir]
        for key, value in options.items():
            argv += ["-c", f"{key}={value}"]
        process = ManagedProcess(argv, log_path=self.log_path, user=self.run_as, stop_signal=signal.SIGINT)
        self._needs_database = first_start
        return process

    def _wait_ready(self, process: ManagedProcess) -> None:
        def accepting() -> bool:
            probe = [str(self.bin_dir / "pg_isready"), "-q", "-h", self.host, "-p", str(self.port)]
            return subprocess.run(probe, check=False, timeout=10).returncode == 0

        wait_until(
            accepting, timeout=self.startup_timeout, what=f"PostgreSQL on {self.host}:{self.port}", process=process
        )
        if self._needs_database:
            self._run("createdb", "-h", str(self.workdir), "-p", str(self.port), "-U", self.user, self.database)
            self._needs_database = False
