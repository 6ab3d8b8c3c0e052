"""A shared MLflow tracking server as the store: `python -m benchmark ui` starts `mlflow server`
on 127.0.0.1 (free port, sqlite backend); a sweep logs to it over HTTP, artifacts included;
the leaderboard reads it back; a second sweep resumes through it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from sweep_support import free_port, fresh_store

from benchmark.report.leaderboard import compute, write_plots
from benchmark.run import runner
from benchmark.run.app import CONF_DIR

pytestmark = pytest.mark.slow  # end to end: sweeps in subprocesses

SWEEP = [
    "run",
    "-m",
    "solver=random,cma",
    "target.n=2",
    "budget.renders=4",
    "duration=0.2",
    "sample_rate=8000",
    "metrics=[lsd]",
    "progress=false",
]


def cli(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmark", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )


def job_config(workdir: Path, url: str, *extra: str):
    """One job of SWEEP, composed as Hydra composes it."""
    overrides = [a for a in SWEEP[2:] if not a.startswith("solver=")]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return compose(
            "config", overrides=[*overrides, f"tracking.uri={url}", f"results_dir={workdir}/results", *extra]
        )


def listening_addresses(port: int) -> set[str]:
    """Local IPv4 addresses with a socket listening on ``port`` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":  # 0A: LISTEN
            found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def wait_healthy(url: str, server: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        assert server.poll() is None, server.stdout.read() if server.stdout else "server exited"
        assert time.monotonic() < deadline, "mlflow server did not answer /health"
        time.sleep(0.5)


def test_sweep_logs_to_a_shared_server_and_the_leaderboard_reads_it_back(tmp_path):
    head = tmp_path / "head"
    fresh_store(head / "results")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmark", "ui", f"port={port}"],
        cwd=head,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        assert listening_addresses(port) == {"127.0.0.1"}  # the default binds this machine only
        node = tmp_path / "node"
        node.mkdir()
        proc = cli(node, *SWEEP, f"tracking.uri={url}")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert not (node / "results" / "mlflow.db").exists()  # nothing went to a local store
        # artifacts travelled through the server into its artifact folder
        assert len(list((head / "results" / "artifacts").rglob("match.wav"))) == 4
        board = compute(url, "soundmatch", metric="lsd")
        assert sorted(zip(board.table["solver"], board.table["n"], strict=True)) == [
            ("cma", 2),
            ("random", 2),
        ]
        plots = write_plots(board, tmp_path / "plots")  # anytime histories over HTTP
        assert any(name.startswith("anytime") for name in plots)
        # resuming through the server: the same config is skipped
        again = runner.run(job_config(node, url, "solver=cma"))
        assert again.skipped and [t.target for t in again.targets] == ["fm2-000", "fm2-001"]
        with urllib.request.urlopen(url, timeout=30) as page:  # the UI itself
            assert page.status == 200 and b"<html" in page.read().lower()
        # two identical sweeps through the server at once (no file lock there): each target once
        same = ["run", "solver=random", "target.n=4", "budget.renders=64", "duration=0.5", "sample_rate=8000",
                "metrics=[lsd]", "progress=false", f"tracking.uri={url}", "seed=7"]  # fmt: skip
        env = {**os.environ, "COLUMNS": "200"}
        racers = [subprocess.Popen([sys.executable, "-m", "benchmark", *same], cwd=node, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for _ in range(2)]  # fmt: skip
        outs = [r.communicate(timeout=600) for r in racers]
        assert [r.returncode for r in racers] == [0, 0], [o[1][-2000:] for o in outs]
        from mlflow.tracking import MlflowClient

        client = MlflowClient(url)
        experiment = client.get_experiment_by_name("soundmatch").experiment_id
        runs = client.search_runs([experiment], "params.seed = '7' and tags.`soundmatch.level` = 'target'")
        finished = sorted(r.data.tags["soundmatch.target"] for r in runs if r.info.status == "FINISHED")
        assert finished == ["fm2-000", "fm2-001", "fm2-002", "fm2-003"]  # every target, none twice
        assert all(r.info.status == "FINISHED" for r in runs)  # a lost claim leaves no run behind
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
