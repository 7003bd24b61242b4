"""``scripts/sweep.py --address`` against a real two-node Ray cluster on this machine: a head and
a worker node (``ray start``, each with one CPU and its own custom resource), started and
stopped here. Slow: a minute or two."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from rl_auxgrad.runs import finished, reached, scalars

ROOT = Path(__file__).parents[1]
CONFIG = str(ROOT / "configs" / "cartpole.yaml")
TOTAL = 8192  # 32 updates of 256 steps, a checkpoint after each


@dataclass(frozen=True)
class Cluster:
    address: str
    env: dict[str, str]
    sessions: list[int]
    """Session ids of the processes started here: every Ray process of the cluster is in one."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(sessions: list[int]) -> None:
    """SIGKILL every process in these sessions (the ones this test started), by pid."""
    psutil = pytest.importorskip("psutil")
    for pid in psutil.pids():
        try:
            if os.getsid(pid) in sessions and pid != os.getpid():
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _busy_workers(sessions: list[int]) -> list[str]:
    """Ray worker processes of the cluster that run a task or actor (not idle, not an agent)."""
    import psutil

    busy = []
    for process in psutil.process_iter(["pid", "name", "cmdline"]):
        try:
            title = " ".join(process.info["cmdline"] or [])
            if (os.getsid(process.info["pid"]) in sessions and title.startswith("ray::")
                    and not title.startswith(("ray::IDLE", "ray::DashboardAgent",
                                              "ray::RuntimeEnvAgent"))):
                busy.append(title)
        except (ProcessLookupError, PermissionError, psutil.Error):
            pass
    return busy


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    pytest.importorskip("ray")
    ray = str(Path(sys.executable).parent / "ray")
    # Ray >= 2.5x: a head node requires a token, which every node and driver must present
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's unix socket paths
    port = _free_port()
    # loopback only; Ray replaces 127.0.0.1 (and "localhost") by the host's address
    common = ["--node-ip-address=127.0.0.2", "--num-cpus=1", "--disable-usage-stats",
              f"--dashboard-agent-listen-port={_free_port()}"]
    head = [ray, "start", "--head", f"--port={port}", "--include-dashboard=false",
            f"--ray-client-server-port={_free_port()}", f"--temp-dir={temp}",
            '--resources={"head": 1}', *common]
    worker = [ray, "start", f"--address=127.0.0.2:{port}", '--resources={"worker": 1}',
              *common]
    sessions: list[int] = []
    try:
        for name, command in (("head", head), ("worker", worker)):
            log = tmp_path / f"ray_{name}.log"
            with log.open("w") as out:
                process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                           start_new_session=True)
            sessions.append(process.pid)
            assert process.wait(120) == 0, log.read_text()
        yield Cluster(f"127.0.0.2:{port}", env, sessions)
    finally:
        _stop(sessions)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_sweep_on_a_two_node_cluster_spreads_trials_and_resumes_killed_runs(cluster, tmp_path):
    runs = tmp_path / "runs"
    command = [sys.executable, str(ROOT / "scripts" / "sweep.py"), "--address", cluster.address,
               "--config", CONFIG, "--gates", "multitask", "cosine", "--lams", "1", "--seeds",
               "1", "--teacher", str(ROOT / "teachers" / "cartpole_ppo_12k"), "--runs-dir",
               str(runs), f"total_steps={TOTAL}", "checkpoint_every=256"]
    names = ["multitask__lam1__seed1", "cosine__lam1__seed1"]
    # first sitting: the driver is killed once a run has a checkpoint, halfway or less
    driver = subprocess.Popen(command, env=cluster.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    cluster.sessions.append(driver.pid)
    deadline = time.monotonic() + 240
    while not any(reached(runs / name) > 0 for name in names if (runs / name).is_dir()):
        assert driver.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    _stop([driver.pid])
    driver.wait()
    while _busy_workers(cluster.sessions):  # Ray ends the dead driver's trials
        assert time.monotonic() < deadline
        time.sleep(0.2)
    before = {name: reached(runs / name) for name in names if (runs / name).is_dir()}
    assert any(0 < step < TOTAL for step in before.values()), before
    # second sitting: finished runs are skipped, the others resume from their checkpoint
    second = subprocess.run(command, env=cluster.env, capture_output=True, text=True,
                            timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    for name in names:
        assert finished(runs / name)
        steps, _ = scalars(runs / name, "charts/SPS")
        assert steps.max() >= TOTAL and np.unique(steps).size == steps.size  # nothing twice
    for name, step in before.items():
        if 0 < step < TOTAL:  # resumed from its checkpoint: a second events file, not a restart
            assert len(list((runs / name).glob("events.out.tfevents.*"))) == 2
    rows = [line.split("|") for line in second.stdout.splitlines() if "__lam1__seed1" in line]
    assert len(rows) == 2 and len({row[6].strip() for row in rows}) == 2  # one trial per node
