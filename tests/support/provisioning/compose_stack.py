"""The compose stack (deploy/compose/compose.yaml + compose.local.yaml) brought up for a test session.

Images come from build/images.env (``make docker``): the local builds on
machines that reach no registry. The stack gets its own project name (so its
own network and volume), free host ports bound to 127.0.0.1 and a fresh API
token; it is brought down with its volumes whatever happens. Every step has a
time bound and a failure shows the services' states and log tails.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.provisioning.images import REPOSITORY, compose_environment
from tests.support.provisioning.native import free_ports

COMPOSE_DIR = REPOSITORY / "deploy" / "compose"
COMPOSE_FILES = (COMPOSE_DIR / "compose.yaml", COMPOSE_DIR / "compose.local.yaml")
UP_TIMEOUT = 600.0
HEALTHY_TIMEOUT = 240.0
DOWN_TIMEOUT = 300.0


class ComposeError(Exception):
    """The stack did not come up (or a compose command failed); the message carries the evidence."""


def compose_binary() -> list[str]:
    """docker-compose 1.29 from Debian (``make tools``), else Compose v2 as a docker CLI plugin."""
    if found := shutil.which("docker-compose"):
        return [found]
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30, check=False)
    if probe.returncode == 0:
        return ["docker", "compose"]
    raise ComposeError("neither docker-compose nor `docker compose` is installed: run `make tools`")


@dataclass
class ComposeStack:
    project: str
    env_file: Path
    health_port: int
    metrics_port: int
    kafka_port: int
    api_token: str
    command: list[str] = field(default_factory=list)

    @property
    def host_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def e2e_environment(self) -> dict[str, str]:
        """What tests/e2e reads to find the stack (as `dagger call e2e` sets it)."""
        return {
            "ONEX_E2E_HOST_URL": self.host_url,
            "ONEX_E2E_METRICS_URL": self.metrics_url,
            "ONEX_E2E_API_TOKEN": self.api_token,
            "ONEX_E2E_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
        }

    def run(self, *arguments: str, timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [*self.command, *arguments]
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            what = " ".join(arguments)
            raise ComposeError(f"`{what}` did not finish within {timeout:.0f}s\n{self.evidence()}") from exc
        if check and result.returncode != 0:
            raise ComposeError(
                f"`{' '.join(arguments)}` exited {result.returncode}:\n{result.stderr[-3000:]}\n{self.evidence()}"
            )
        return result

    def container_id(self, service: str) -> str:
        return self.run("ps", "-q", service, timeout=60).stdout.strip()

    def started_at(self, service: str) -> str:
        """When the service's container last started (changes on every restart)."""
        container = self.container_id(service)
        result = subprocess.run(
            ["docker", "inspect", "--format", "{{.State.StartedAt}}", container],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return result.stdout.strip()

    def health(self, service: str) -> str:
        container = self.container_id(service)
        if not container:
            return "absent"
        result = subprocess.run(
            ["docker", "inspect", "--format", "{{json .State}}", container],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            return "absent"
        state = json.loads(result.stdout)
        return str(state.get("Health", {}).get("Status") or state.get("Status"))

    def wait_healthy(self, service: str, timeout: float = HEALTHY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        status = "unknown"
        while time.monotonic() < deadline:
            status = self.health(service)
            if status == "healthy":
                return
            if status in {"exited", "dead", "unhealthy"}:
                break
            time.sleep(2)
        raise ComposeError(f"{service} is {status}, not healthy, after {timeout:.0f}s at most\n{self.evidence()}")

    def evidence(self) -> str:
        """Each service's state and log tail: what a failure report needs."""
        try:
            states = subprocess.run(
                [*self.command, "ps"], capture_output=True, text=True, timeout=60, check=False
            ).stdout
            logs = subprocess.run(
                [*self.command, "logs", "--no-color", "--tail", "40"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            ).stdout
        except subprocess.TimeoutExpired:
            return "(compose ps/logs timed out)"
        return f"--- compose ps ---\n{states}\n--- compose logs (tail) ---\n{logs[-12000:]}"


@contextmanager
def compose_stack(workdir: Path) -> Iterator[ComposeStack]:
    """``up -d`` (compose waits for each dependency's healthcheck), the host healthy, then ``down -v`` at the end."""
    health_port, metrics_port, kafka_port = free_ports(3)
    token = secrets.token_urlsafe(24)
    project = f"onex-test-{uuid.uuid4().hex[:8]}"
    env_file = workdir / "compose.env"
    variables = {
        **compose_environment(),
        "ONEX_API_TOKEN": token,
        "ONEX_HEALTH_PORT": str(health_port),
        "ONEX_METRICS_PORT": str(metrics_port),
        "ONEX_E2E_KAFKA_PORT": str(kafka_port),
        "POSTGRES_PASSWORD": "onex",
        "VAULT_DEV_ROOT_TOKEN": "onex-dev-root",
    }
    env_file.write_text("".join(f"{name}={value}\n" for name, value in variables.items()), encoding="utf-8")
    command = [*compose_binary(), "--project-name", project, "--env-file", str(env_file)]
    for compose_file in COMPOSE_FILES:
        command += ["--file", str(compose_file)]
    stack = ComposeStack(project, env_file, health_port, metrics_port, kafka_port, token, command)
    try:
        stack.run("up", "--detach", "--no-build", timeout=UP_TIMEOUT)
        stack.wait_healthy("onex-host")
        yield stack
    finally:
        stack.run("down", "--volumes", "--remove-orphans", "--timeout", "60", timeout=DOWN_TIMEOUT, check=False)
