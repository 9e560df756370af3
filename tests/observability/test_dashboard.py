"""The shipped Grafana dashboard: its panels cover what operators ask for, its queries read only metrics the
host serves, and a real Prometheus scraping real hosts under a bounded load answers every one of them.

Two hosts are scraped: ``onex-host run`` on the bundled dev contract (memory bus) fed through
``POST /v1/envelopes``, and the same echo node on a Kafka bus fed through its command topic with commands
that are retried and records that are dead-lettered, since consumer lag, dead letters and retries exist
only on Kafka.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from onex_host.core.enums import EnumErrorCode
from onex_host.infra.metrics import HostMetrics
from tests.observability.tooling import DASHBOARD, REPOSITORY, tool
from tests.support.builders.factories import command
from tests.support.builders.host_process import HostProcess, free_port
from tests.support.builders.kafka_bus import CommandProducer, bus_config, bus_topics, reading, unique_prefix
from tests.support.builders.kafka_host_contract import write_kafka_host
from tests.support.provisioning.endpoints import KafkaEndpoint

pytestmark = pytest.mark.observability

DEV_CONTRACT = REPOSITORY / "contracts" / "runtime" / "dev_runtime_host.yaml"
SCRAPE_SECONDS = 1
RATE_WINDOW = "30s"
# What Grafana puts in for the dashboard's variables: every mode and node, and a rate window that holds
# several scrapes.
VARIABLES = {"$__rate_interval": RATE_WINDOW, "$mode": ".+", "$node": ".+"}
ROUNDS = 6
_METRIC = re.compile(r"\b(onex_[a-z_]+)")


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel."""
    return [(panel["title"], target["expr"]) for panel in panels() for target in panel["targets"]]


def concrete(expr: str) -> str:
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a dashboard variable the test does not fill in: {expr}"
    return expr


def served_metric_names() -> set[str]:
    """Every sample name a host's /metrics can carry, from its registry (counters as ``*_total``)."""
    names = set()
    for family in HostMetrics().registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count")}
        else:
            names.add(family.name)
    return names


def test_the_dashboard_has_a_panel_for_each_question() -> None:
    titles = " | ".join(panel["title"].lower() for panel in panels())
    for subject in ("throughput", "errors by code", "error ratio", "latency", "in-flight", "lag", "dead letters"):
        assert subject in titles, f"no panel about {subject}: {titles}"
    assert "retries" in titles
    by_node = [p["title"] for p in panels() if "node / operation" in p["title"]]
    assert len(by_node) >= 3, "throughput, errors and retries are shown per node/operation"
    assert dashboard()["uid"] == "onex-runtime-host"
    names = [variable["name"] for variable in dashboard()["templating"]["list"]]
    assert names == ["datasource", "mode", "node"]


def test_every_query_reads_only_metrics_the_host_serves() -> None:
    served = served_metric_names()
    for title, expr in queries():
        used = set(_METRIC.findall(expr))
        assert used, f"{title}: no onex metric in {expr}"
        assert used <= served, f"{title}: {sorted(used - served)} is not on /metrics (served: {sorted(served)})"
    used_everywhere = {name for _, expr in queries() for name in _METRIC.findall(expr)}
    assert used_everywhere == served - {"onex_envelope_duration_seconds_sum", "onex_envelope_duration_seconds_count"}


class Prometheus:
    """A real Prometheus on a loopback port, scraping ``targets`` every second; data in ``directory``."""

    def __init__(self, binary: str, directory: Path, targets: list[str]) -> None:
        self.port = free_port()
        config = {
            "global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": f"{SCRAPE_SECONDS}s"},
            "rule_files": [str(REPOSITORY / "deploy" / "observability" / "prometheus" / "onex-alerts.yaml")],
            "scrape_configs": [{"job_name": "onex-host", "static_configs": [{"targets": targets}]}],
        }
        config_path = directory / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        self.log_path = directory / "prometheus.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"prometheus not ready within {timeout}s:\n{self.logs()}")

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert body.get("status") == "success", f"{expr}: {body}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


def post_envelopes(host: HostProcess, round_number: int) -> None:
    """One round of the bounded load on the envelope API: echoes, slow echoes and two kinds of failure."""
    batch = [command(payload={"round": round_number, "i": i}) for i in range(20)]
    batch += [command(operation="sleep", payload={"seconds": 0.02}) for _ in range(3)]
    batch += [command(operation="fail", payload={"code": EnumErrorCode.UPSTREAM_ERROR.value}) for _ in range(2)]
    batch += [command(operation="fail", payload={"code": EnumErrorCode.TIMEOUT.value})]
    with httpx.Client(base_url=host.url, timeout=10) as client:
        for envelope in batch:
            response = client.post("/v1/envelopes", content=envelope.to_wire())
            assert response.status_code == 200, response.text
            assert response.json()["correlation_id"] == str(envelope.correlation_id)


async def feed_kafka(bootstrap: str, command_topic: str, reply_topic: str, round_number: int) -> None:
    """One round on the command topic: echoes, a retryable failure (retried, then dead-lettered), a poison record."""
    batch = [command(payload={"round": round_number, "i": i}) for i in range(10)]
    batch.append(command(operation="fail", payload={"code": EnumErrorCode.UPSTREAM_UNAVAILABLE.value}))
    async with reading(bootstrap, reply_topic) as replies, CommandProducer(bootstrap, command_topic) as producer:
        await producer.send_many(batch)
        await producer.send_raw(b"this is not json", key=b"poison")
        await replies.wait_for_correlations({e.correlation_id for e in batch}, timeout=60)


async def test_a_real_prometheus_scraping_real_hosts_answers_every_dashboard_query(
    request: pytest.FixtureRequest, kafka_service: KafkaEndpoint, tmp_path: Path
) -> None:
    binary = tool(request.config, "prometheus")
    bootstrap = kafka_service.bootstrap
    bus = bus_config(bootstrap, unique_prefix("dashboard"))
    await bus_topics(bus, partitions=2)
    kafka_contract = write_kafka_host(tmp_path / "kafka", bus)
    (tmp_path / "prom").mkdir()

    with HostProcess(DEV_CONTRACT, tmp_path) as dev, HostProcess(kafka_contract, tmp_path) as kafka:
        await asyncio.to_thread(dev.wait_ready, 60)
        await asyncio.to_thread(kafka.wait_ready, 60)
        targets = [f"127.0.0.1:{dev.metrics_port}", f"127.0.0.1:{kafka.metrics_port}"]
        prometheus = Prometheus(binary, tmp_path / "prom", targets)
        try:
            await asyncio.to_thread(prometheus.wait_ready)
            for round_number in range(ROUNDS):  # bounded: ROUNDS x (26 HTTP + 12 Kafka records), a second apart
                await asyncio.to_thread(post_envelopes, dev, round_number)
                await feed_kafka(bootstrap, bus.command_topic, bus.reply_topic, round_number)
                await asyncio.sleep(SCRAPE_SECONDS)

            up = await asyncio.to_thread(prometheus.query, 'up{job="onex-host"} == 1')
            assert len(up) == 2, f"both hosts scraped: {up}\n{prometheus.logs()}"

            answers: dict[str, list[dict[str, Any]]] = {}
            deadline = time.monotonic() + 30
            while True:
                for title, expr in queries():
                    answers[f"{title}: {expr}"] = await asyncio.to_thread(prometheus.query, concrete(expr))
                empty = [name for name, result in answers.items() if not result]
                if not empty or time.monotonic() > deadline:
                    break
                await asyncio.sleep(SCRAPE_SECONDS)
            assert empty == [], "dashboard queries with no series:\n" + "\n".join(empty)

            throughput = await asyncio.to_thread(
                prometheus.query, f"sum by (node, operation) (increase(onex_envelopes_total[{RATE_WINDOW}]))"
            )
            seen = {(s["metric"]["node"], s["metric"]["operation"]) for s in throughput}
            assert {("echo", "echo"), ("echo", "sleep"), ("echo", "fail")} <= seen
            errors = await asyncio.to_thread(prometheus.query, 'sum by (outcome) (onex_envelopes_total{outcome!="ok"})')
            assert {"upstream_error", "timeout", "upstream_unavailable"} <= {s["metric"]["outcome"] for s in errors}
            dead = await asyncio.to_thread(prometheus.query, "sum by (reason) (onex_dead_letters_total)")
            assert {"not_json", "handler_failed"} <= {s["metric"]["reason"] for s in dead}
            retries = await asyncio.to_thread(prometheus.query, "sum(onex_retries_total) > 0")
            assert retries, "the retryable failures were retried"
            ready = await asyncio.to_thread(prometheus.query, "onex_ready")
            assert sorted(float(s["value"][1]) for s in ready) == [1.0, 1.0], ready
        finally:
            prometheus.stop()
        assert dev.terminate() == 0
        assert kafka.terminate() == 0
