"""Helpers of the sweep and report tests: fresh MLflow stores, run counts, free ports.

MLflow builds a new sqlite store's schema with some sixty migrations (seconds on
a busy machine); the tests make one such store per session and copy it.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

_TEMPLATE: list[Path] = []


def run_cli(
    workdir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """``python -m benchmark *args`` in ``workdir``, as a user runs it; text stdout/stderr."""
    return subprocess.run(
        [sys.executable, "-m", "benchmark", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def fresh_store(results: Path) -> str:
    """An empty, migrated MLflow store at ``results/mlflow.db``; returns its URI."""
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="soundmatch-store-template-"))
        # a separate process, so no connection of this one keeps the file open
        code = "import sys; from benchmark.run.tracking import Tracker; Tracker(sys.argv[1], 'Default')"
        subprocess.run(
            [sys.executable, "-c", code, f"sqlite:///{folder / 'mlflow.db'}"], check=True, timeout=300
        )
        con = sqlite3.connect(folder / "mlflow.db")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        _TEMPLATE.append(folder / "mlflow.db")
    results.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_TEMPLATE[0], results / "mlflow.db")
    return f"sqlite:///{(results / 'mlflow.db').resolve()}"


def status_counts(db: Path) -> dict[tuple[str, str], int]:
    """(level, status) -> number of runs, read straight from a sqlite store (read-only)."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    except sqlite3.OperationalError:  # no store yet
        return {}
    try:
        rows = con.execute(
            "select t.value, r.status, count(*) from runs r join tags t on r.run_uuid = t.run_uuid "
            "where t.key = 'soundmatch.level' group by t.value, r.status"
        ).fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return {}
    finally:
        con.close()
    return {(level, status): n for level, status, n in rows}


def finished_target_keys(db: Path) -> list[tuple[str, str]]:
    """(config hash, target) of every FINISHED per-target run, duplicates kept."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(
            "select h.value, t.value from runs r "
            "join tags l on l.run_uuid = r.run_uuid and l.key = 'soundmatch.level' and l.value = 'target' "
            "join tags h on h.run_uuid = r.run_uuid and h.key = 'soundmatch.config_hash' "
            "join tags t on t.run_uuid = r.run_uuid and t.key = 'soundmatch.target' "
            "where r.status = 'FINISHED'"
        ).fetchall()
    finally:
        con.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
