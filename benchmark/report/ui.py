"""The ``ui`` command: the MLflow UI (an ``mlflow server``) on the benchmark's store.

Bound to 127.0.0.1 unless ``host=`` says otherwise. The same server is the shared
store for sweeps on many machines: they log over HTTP with
``tracking.uri=http://HOST:PORT``, and artifacts travel through the server
(``--serve-artifacts``), so the machines need no shared file system.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from benchmark.options import Option, integer, parse_command, store_options, text
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


OPTIONS = (
    Option("host", text, "127.0.0.1", "interface to listen on (127.0.0.1: this machine only)"),
    Option("port", integer(1, 65535), 5000, "TCP port"),
    Option("workers", integer(1, 64), 1, "server worker processes"),
    Option("allowed_hosts", text, None, "Host headers accepted when bound beyond localhost (mlflow's)"),
    *store_options(),
)


def check_port_free(host: str, port: int) -> None:
    """One line when ``host:port`` cannot be listened on (another server holds it, no such address),
    before the server starts: it would log the bind error among its INFO lines and exit 0."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise UserError(f"ui: host={host} is not an address of this machine ({err.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        try:
            probe.bind(address)
        except OSError as err:
            raise UserError(
                f"ui: cannot listen on {host}:{port} ({err.strerror}); another server holds it? choose "
                "another port=, or open the one that runs"
            ) from None


def ui_cli(args: list[str]) -> int:
    values = parse_command(
        args, OPTIONS, "ui", "Start the MLflow UI (and tracking server) on the benchmark's store."
    )
    if values is None:
        return 0
    uri = resolve_uri(values["tracking.uri"], values["results_dir"])
    if uri.startswith(("http://", "https://")):
        raise UserError(f"tracking.uri={uri} is already a server; open it in a browser instead")
    check_port_free(values["host"], values["port"])
    results = Path(values["results_dir"])
    artifacts = results / "artifacts"
    # open the store once here, so its schema exists before the server's workers open it; the
    # experiment is left to the first client, so that over HTTP it gets the server's proxied
    # artifact root (mlflow-artifacts:/, stored under --artifacts-destination), which machines
    # without this file system can write to
    tracker = Tracker(uri, "Default")
    artifacts.mkdir(parents=True, exist_ok=True)
    host, port, experiment = values["host"], values["port"], values["tracking.experiment"]
    cmd = server_command(uri, host, port, values["workers"], artifacts, values["allowed_hosts"])
    base = f"http://{host}:{port}"
    print(f"MLflow UI on {base} (store {uri}); Ctrl-C stops it", flush=True)
    found = tracker.client.get_experiment_by_name(experiment)
    if found is not None:  # straight to the runs table, not the UI's start page
        print(f"the runs of '{experiment}': {base}/#/experiments/{found.experiment_id}/runs", flush=True)
    # the server replaces this process, so signals (Ctrl-C, a supervisor's SIGTERM) reach it directly
    os.execv(cmd[0], cmd)
    return 0  # not reached
