"""A Consul dev agent (in-memory server + client) from the binary ``make services`` extracted."""

from __future__ import annotations

import json
import secrets
import urllib.request

from tests.support.provisioning.native._process import (
    LOOPBACK,
    SERVICES_DIR,
    ManagedProcess,
    NativeServer,
    find_executable,
    free_ports,
    wait_until,
)

CONSUL_VERSION = "1.8.7"


def consul_has_leader(addr: str, timeout: float = 2.0) -> bool:
    """True once the agent elected itself: before that, KV writes fail with 500 "No cluster leader"."""
    with urllib.request.urlopen(f"{addr}/v1/status/leader", timeout=timeout) as response:
        return bool(json.loads(response.read()))


class NativeConsul(NativeServer):
    """``consul agent -dev`` with every port (HTTP, DNS, Serf LAN/WAN, server RPC, gRPC) on a free loopback port.

    Giving each agent its own ports and a unique node name is what lets several
    test sessions run agents side by side on one machine.
    """

    name = "consul"

    def __init__(self, *, startup_timeout: float = 60.0) -> None:
        super().__init__(startup_timeout=startup_timeout)
        self.consul = find_executable("consul", SERVICES_DIR / "consul" / CONSUL_VERSION / "bin" / "consul")
        flags = ("http-port", "dns-port", "serf-lan-port", "serf-wan-port", "server-port", "grpc-port")
        self.ports = dict(zip(flags, free_ports(len(flags)), strict=True))
        self.node_name = f"onex-test-{secrets.token_hex(4)}"

    @property
    def addr(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['http-port']}"

    def _spawn(self) -> ManagedProcess:
        argv = [
            str(self.consul),
            "agent",
            "-dev",
            f"-node={self.node_name}",
            f"-bind={LOOPBACK}",
            f"-client={LOOPBACK}",
            f"-advertise={LOOPBACK}",
            "-hcl=disable_update_check = true",  # no calls home to HashiCorp's checkpoint service
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
        ]
        return ManagedProcess(argv, log_path=self.log_path, cwd=self.workdir)

    def _wait_ready(self, process: ManagedProcess) -> None:
        wait_until(
            lambda: consul_has_leader(self.addr),
            timeout=self.startup_timeout,
            what=f"Consul dev agent on {self.addr}",
            process=process,
        )
