"""Process supervision shared by the native servers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.provisioning.native import ServiceStartError, free_ports
from tests.support.provisioning.native._process import (
    OWNER_FILE,
    WORKDIR_PREFIX,
    ManagedProcess,
    free_port_pair,
    remove_orphaned_workdirs,
    wait_until,
)


def test_free_ports_are_distinct() -> None:
    ports = free_ports(6)
    assert len(set(ports)) == 6


def test_a_free_port_pair_has_a_free_neighbour() -> None:
    port = free_port_pair()
    assert port + 1 not in free_ports(1)


def test_readiness_fails_fast_with_the_log_when_the_process_dies(tmp_path: Path) -> None:
    process = ManagedProcess(
        [sys.executable, "-c", "print('bad config: port in use'); raise SystemExit(3)"], log_path=tmp_path / "x.log"
    )
    started = time.monotonic()
    with pytest.raises(ServiceStartError, match=r"(?s)exited with code 3.*bad config: port in use"):
        wait_until(lambda: False, timeout=30, what="x", process=process)
    assert time.monotonic() - started < 10
    process.stop()


def test_readiness_times_out_with_a_clear_message(tmp_path: Path) -> None:
    process = ManagedProcess([sys.executable, "-c", "import time; time.sleep(30)"], log_path=tmp_path / "x.log")
    try:
        with pytest.raises(ServiceStartError, match="my server: not ready after 0s"):
            wait_until(lambda: False, timeout=0.3, what="my server", process=process)
    finally:
        process.kill()


def test_a_process_that_ignores_the_stop_signal_is_killed(tmp_path: Path) -> None:
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    )
    log = tmp_path / "x.log"
    process = ManagedProcess([sys.executable, "-c", stubborn], log_path=log, stop_signal=signal.SIGTERM)
    wait_until(lambda: "up" in log.read_text(), timeout=10, what="stubborn")
    process.stop(timeout=0.5)
    assert not process.running


def test_workdirs_of_a_dead_owner_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphaned = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}test-"))
    (orphaned / OWNER_FILE).write_text(dead.stdout.strip())
    ours = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}test-"))
    (ours / OWNER_FILE).write_text(str(os.getpid()))
    try:
        remove_orphaned_workdirs()
        assert not orphaned.exists()
        assert ours.exists()
    finally:
        shutil.rmtree(ours, ignore_errors=True)
        shutil.rmtree(orphaned, ignore_errors=True)
