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
def test_a_store_that_would_lose_results_is_refused_in_one_line(main_cli, workdir, uri, says, command):
    uri = uri.format(dir=workdir)
    args = [*RUN, f"tracking.uri={uri}"] if command == "run" else ["leaderboard", f"tracking.uri={uri}"]
    assert says in one_error_line(main_cli(*args))


def test_another_applications_database_is_left_untouched(main_cli, workdir: Path):
    db = workdir / "notes.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE notes (text TEXT)")
        con.execute("INSERT INTO notes VALUES ('mine')")
    before = db.read_bytes()
    for args in ([*RUN, f"tracking.uri=sqlite:///{db}"], ["leaderboard", f"tracking.uri=sqlite:///{db}"]):
        assert "another application's SQLite database" in one_error_line(main_cli(*args))
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
def test_a_server_that_never_answers_is_reported_within_seconds(main_cli, silent_server, command):
    store = f"tracking.uri={silent_server}"
    args = [*RUN, store] if command == "run" else [command, store]
    t0 = time.perf_counter()
    line = one_error_line(main_cli(*args))
    assert time.perf_counter() - t0 < 20 and silent_server.split("//")[1] in line


def test_a_store_deleted_under_a_run_ends_it_in_one_line(tmp_path, monkeypatch):
    """SQLite would write on into the deleted file and exit 0 naming a store that is gone."""
    import os
    from dataclasses import dataclass

    import torch
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from benchmark.run import runner
    from benchmark.run.app import CONF_DIR
    from solvers.base import Result, Solver, solver_registry
    from soundmatch.errors import UserError

    results = tmp_path / "results"

    @dataclass
    class Deleter(Solver):
        name = "deleter"

        def solve(self, problem):
            problem.evaluate(torch.rand(2, problem.dim, generator=problem.generator))
            db = results / "mlflow.db"
            if db.exists():
                os.remove(db)
            return Result(problem.best_x)

    solver_registry.names()
    monkeypatch.setitem(solver_registry._entries, "deleter", Deleter)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = compose("config", overrides=["solver=random", "target.n=2", "budget.renders=4", "duration=0.25",
                                           "sample_rate=8000", "metrics=[lsd]", "progress=false",
                                           f"results_dir={results}"])  # fmt: skip
    with open_dict(cfg):
        cfg.solver = {"name": "deleter"}
    with pytest.raises(UserError, match="was deleted or replaced while this command wrote"):
        runner.run(cfg)


def test_ui_on_a_busy_port_is_one_line(main_cli, silent_server):
    port = silent_server.rsplit(":", 1)[1]
    line = one_error_line(main_cli("ui", f"port={port}"))
    assert f"cannot listen on 127.0.0.1:{port}" in line


def test_a_stuck_holder_of_the_store_lock_is_named_not_waited_on_forever(tmp_path, monkeypatch, capsys):
    import fcntl

    from benchmark.run import tracking
    from soundmatch.errors import UserError

    monkeypatch.setattr(tracking, "LOCK_WAIT_S", 1.5)
    monkeypatch.setattr(tracking, "LOCK_SAY_S", 0.5)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    lock = tmp_path / "mlflow.db.lock"
    with open(lock, "a") as held:  # another process's flock: a second open file description conflicts
        fcntl.flock(held, fcntl.LOCK_EX)
        t0 = time.perf_counter()
        with pytest.raises(UserError, match="has been held by another process"):
            with tracking.store_lock(uri):
                pass
        assert time.perf_counter() - t0 < 5
    assert "waiting for the store's lock" in capsys.readouterr().err


@pytest.fixture
def read_only_store(main_cli, workdir: Path):
    """A finished run's store, then the same folder bind-mounted read-only (root and a mount
    namespace needed: skipped where mounting is not allowed)."""
    import subprocess

    assert main_cli(*RUN).returncode == 0
    mounted = workdir / "read-only"
    mounted.mkdir()
    steps = (["mount", "--bind", str(workdir / "results"), str(mounted)],
             ["mount", "-o", "remount,ro,bind", str(mounted)])  # fmt: skip
    for step in steps:
        if subprocess.run(step, capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mounted)], capture_output=True)
            pytest.skip("cannot bind-mount read-only here (needs root in a mount namespace)")
    yield mounted
    # lazily: this process's store clients may still hold the files open
    assert subprocess.run(["umount", "-l", str(mounted)], capture_output=True).returncode == 0


def test_a_read_only_store_is_read_by_the_reading_commands_and_named_read_only(main_cli, read_only_store):
    board = main_cli("leaderboard", f"results_dir={read_only_store}", "format=csv")
    assert board.returncode == 0, board.stderr[-1500:]
    assert len(board.stdout.strip().splitlines()) == 2  # header and the one run's row
    page = main_cli("report", f"results_dir={read_only_store}", f"out={read_only_store.parent / 'page.html'}")
    assert page.returncode == 0, page.stderr[-1500:]
    for writer in (["rescore", "metrics=[mss]"], RUN):
        line = one_error_line(main_cli(*writer, f"results_dir={read_only_store}"))
        assert "read-only" in line or "not writable" in line, line
        assert "damaged" not in line
