"""Stores that would lose results or hang are refused fast, in one line naming the store and the
fix, exit code 2, for the commands that write and the commands that read."""

from __future__ import annotations

import socket
import sqlite3
import time
from pathlib import Path

import pytest

RUN = ["run", "solver=random", "synth=fm2", "target.n=1", "budget.renders=4", "duration=0.25",
       "sample_rate=8000", "metrics=[lsd]", "progress=false"]  # fmt: skip


def one_error_line(out) -> str:
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), out.stderr[-1500:]
    return lines[0]


@pytest.mark.parametrize(
    "uri, says",
    [("sqlite://", "in-memory"), ("sqlite:///:memory:", "in-memory"), ("sqlite:///{dir}", "a folder"),
     ("sqlite:///{dir}/missing/sub/mlflow.db", "does not exist"), ("postgresql://u@h/db", "scheme"),
     ("mysql://h/db", "scheme")],
)
@pytest.mark.parametrize("command", ["run", "leaderboard"])
def test_a_store_that_would_lose_results_is_refused_in_one_line(cli, workdir, uri, says, command):
    uri = uri.format(dir=workdir)
    args = [*RUN, f"tracking.uri={uri}"] if command == "run" else ["leaderboard", f"tracking.uri={uri}"]
    assert says in one_error_line(cli(*args))


def test_another_applications_database_is_left_untouched(cli, workdir: Path):
    db = workdir / "notes.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE notes (text TEXT)")
        con.execute("INSERT INTO notes VALUES ('mine')")
    before = db.read_bytes()
    for args in ([*RUN, f"tracking.uri=sqlite:///{db}"], ["leaderboard", f"tracking.uri=sqlite:///{db}"]):
        assert "another application's SQLite database" in one_error_line(cli(*args))
    assert db.read_bytes() == before and not (workdir / "notes.db-wal").exists()


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.mark.parametrize("command", ["run", "leaderboard", "report"])
def test_a_server_that_never_answers_is_reported_within_seconds(cli, silent_server, command):
    store = f"tracking.uri={silent_server}"
    args = [*RUN, store] if command == "run" else [command, store]
    t0 = time.perf_counter()
    line = one_error_line(cli(*args, timeout=120))
    assert time.perf_counter() - t0 < 30 and silent_server.split("//")[1] in line
