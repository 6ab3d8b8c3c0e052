"""The ``ui`` command: the MLflow UI (an ``mlflow server``) on the benchmark's store.

Bound to 127.0.0.1 unless ``--host`` says otherwise. The same server is the shared
store for sweeps on many machines: they log over HTTP with
``tracking.uri=http://HOST:PORT``, and artifacts travel through the server
(``--serve-artifacts``), so the machines need no shared file system.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchmark.run.tracking import Tracker, resolve_uri
from soundmatch.errors import UserError


def server_command(
    uri: str, host: str, port: int, workers: int, artifacts: Path, allowed_hosts: str | None = None
) -> list[str]:
    """The ``mlflow server`` command line for a database store ``uri`` and an artifact folder."""
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri]
    cmd += ["--host", host, "--port", str(port), "--workers", str(workers)]
    cmd += ["--serve-artifacts", "--artifacts-destination", artifacts.resolve().as_uri()]
    if allowed_hosts:
        cmd += ["--allowed-hosts", allowed_hosts]
    return cmd


def ui_cli(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark ui",
        description="Start the MLflow UI (and tracking server) on the benchmark's store.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    parser.add_argument("--tracking-uri", default=None, help="database store (default: the results store)")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--experiment", default="soundmatch", help="experiment whose runs page is printed")
    parser.add_argument(
        "--allowed-hosts", default=None, help="Host headers accepted when bound beyond localhost (mlflow's)"
    )
    opts = parser.parse_args(args)
    if not 0 < opts.port < 65536:
        raise UserError(f"--port {opts.port} is not a TCP port; give 1-65535")
    uri = resolve_uri(opts.tracking_uri, opts.results_dir)
    if uri.startswith(("http://", "https://")):
        raise UserError(f"--tracking-uri {uri} is already a server; open it in a browser instead")
    results = Path(opts.results_dir)
    artifacts = results / "artifacts"
    # open the store once here, so its schema exists before the server's workers open it; the
    # experiment is left to the first client, so that over HTTP it gets the server's proxied
    # artifact root (mlflow-artifacts:/, stored under --artifacts-destination), which machines
    # without this file system can write to
    tracker = Tracker(uri, "Default")
    artifacts.mkdir(parents=True, exist_ok=True)
    cmd = server_command(uri, opts.host, opts.port, opts.workers, artifacts, opts.allowed_hosts)
    base = f"http://{opts.host}:{opts.port}"
    print(f"MLflow UI on {base} (store {uri}); Ctrl-C stops it", flush=True)
    found = tracker.client.get_experiment_by_name(opts.experiment)
    if found is not None:  # straight to the runs table, not the UI's start page
        print(f"the runs of '{opts.experiment}': {base}/#/experiments/{found.experiment_id}/runs", flush=True)
    # the server replaces this process, so signals (Ctrl-C, a supervisor's SIGTERM) reach it directly
    os.execv(cmd[0], cmd)
    return 0  # not reached
