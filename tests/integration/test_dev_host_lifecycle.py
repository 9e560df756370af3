"""What `make run` promises: the embedded dev host starts, answers, counts, and stops cleanly."""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.support.builders.factories import command
from tests.support.builders.host_process import ONEX_HOST, HostProcess


def test_the_dev_host_echoes_reports_ready_counts_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    with HostProcess(None, tmp_path) as host:
        host.wait_ready()
        sent = subprocess.run(
            [str(ONEX_HOST), "send", "--url", host.url, "--payload", '{"hello": "world"}'],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert sent.returncode == 0, sent.stderr
        reply = json.loads(sent.stdout)
        assert (reply["success"], reply["payload"]) == (True, {"hello": "world"})

        ready = httpx.get(f"{host.url}/health/ready", timeout=5)
        assert ready.status_code == 200
        assert ready.json()["ready"] is True

        metrics = httpx.get(host.metrics_url, timeout=5).text
        assert 'onex_envelopes_total{mode="primary",node="echo",operation="echo",outcome="ok"} 1.0' in metrics

        started = time.monotonic()
        assert host.terminate() == 0
        assert time.monotonic() - started < 10  # the dev contract's shutdown_timeout_seconds
        assert "runtime host stopped" in host.logs()


def test_sigterm_with_slow_work_in_flight_answers_it_before_exiting(tmp_path: Path) -> None:
    def send(i: int) -> httpx.Response:
        request = command(operation="sleep", payload={"seconds": 1.0, "echo": {"i": i}})
        return httpx.post(f"{host.url}/v1/envelopes", content=request.to_wire(), timeout=30)

    with HostProcess(None, tmp_path) as host, ThreadPoolExecutor(5) as pool:
        host.wait_ready()
        futures = [pool.submit(send, i) for i in range(5)]
        deadline = time.monotonic() + 10
        while host.inflight() < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert host.inflight() == 5
        assert host.terminate() == 0
        replies = [f.result(timeout=30) for f in futures]
        assert [r.status_code for r in replies] == [200] * 5
        assert sorted(r.json()["payload"]["i"] for r in replies) == [0, 1, 2, 3, 4]


def test_run_refuses_a_broken_contract_with_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "host.yaml"
    bad.write_text("name: h\nnodes: [{slug: ghost, contract_path: ghost.yaml}]\n")
    result = subprocess.run([str(ONEX_HOST), "run", str(bad)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {bad.resolve()}: nodes[0].contract_path: node 'ghost': contract file "
        f"{bad.resolve().parent / 'ghost.yaml'} does not exist"
    ]
