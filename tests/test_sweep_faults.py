"""Faults and resumption in the runner, against a real sqlite MLflow store (in-process, tiny budgets).

A solver that raises or returns NaN ends only that target's run, FAILED, with its
traceback as an artifact; Ctrl-C ends the current run KILLED and keeps the finished
ones; a second invocation of the same config runs only what did not finish, and a
third is skipped in one line unless force=true.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict
from sweep_support import fresh_store

from benchmark.report.leaderboard import compute
from benchmark.run import runner
from benchmark.run.app import CONF_DIR
from benchmark.run.tracking import Tracker, default_uri
from solvers.base import Problem, Result, Solver, solver_registry


@dataclass
class FlakySolver(Solver):
    """Random search that raises on the targets in ``raise_on`` and returns NaN on ``nan_on``."""

    name: ClassVar[str] = "flaky"
    raise_on: ClassVar[set[str]] = set()
    nan_on: ClassVar[set[str]] = set()
    interrupt_on: ClassVar[set[str]] = set()
    exit_on: ClassVar[set[str]] = set()
    batch_size: int = 4

    def solve(self, problem: Problem) -> Result:
        name = problem.target.name
        if name in self.interrupt_on:  # the user's Ctrl-C: SIGINT to the process, while the solver works
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        if name in self.exit_on:  # a plugin ending the interpreter from inside its search
            raise SystemExit(0)
        problem.evaluate(torch.rand(self.batch_size, problem.dim, generator=problem.generator))
        if name in self.raise_on:
            raise ValueError(f"flaky solver broke on {name}")
        if name in self.nan_on:
            return Result(torch.full((problem.dim,), float("nan")))
        return Result(problem.best_x)


@pytest.fixture
def flaky(monkeypatch):
    solver_registry.names()  # load the in-tree entries first
    monkeypatch.setitem(solver_registry._entries, "flaky", FlakySolver)
    for attr in ("raise_on", "nan_on", "interrupt_on", "exit_on"):
        monkeypatch.setattr(FlakySolver, attr, set())
    return FlakySolver


def config(results: Path, *extra: str):
    overrides = [
        "solver=random",
        "target.n=3",
        "budget.renders=4",
        "duration=0.3",
        "sample_rate=8000",
        "metrics=[lsd]",
        "progress=false",
        f"results_dir={results}",
        *extra,
    ]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = compose("config", overrides=overrides)
    with open_dict(cfg):
        cfg.solver = {"name": "flaky", "batch_size": 4}
    return cfg


def store_runs(results: Path) -> list:
    tracker = Tracker(default_uri(results), "soundmatch")
    return tracker.search("")


def by_level(runs: list, level: str) -> list:
    return [r for r in runs if r.data.tags.get("soundmatch.level") == level]


def test_faulty_targets_fail_alone_and_a_resume_runs_only_them(tmp_path, flaky, capsys):
    results = tmp_path / "results"
    fresh_store(results)
    flaky.raise_on = {"fm2-001"}
    flaky.nan_on = {"fm2-002"}
    first = runner.run(config(results))
    assert first.failed == ["fm2-001", "fm2-002"] and [t.target for t in first.targets] == ["fm2-000"]
    runs = store_runs(results)
    status = {r.data.tags["soundmatch.target"]: r.info.status for r in by_level(runs, "target")}
    assert status == {"fm2-000": "FINISHED", "fm2-001": "FAILED", "fm2-002": "FAILED"}
    (parent,) = by_level(runs, "invocation")
    assert (
        parent.info.status == "FAILED" and parent.data.tags["soundmatch.failed_targets"] == "fm2-001,fm2-002"
    )
    tracker = Tracker(default_uri(results), "soundmatch")
    for run in by_level(runs, "target"):
        names = {a.path for a in tracker.client.list_artifacts(run.info.run_id)}
        if run.info.status == "FAILED":
            text = Path(
                tracker.client.download_artifacts(run.info.run_id, "traceback.txt", str(tmp_path))
            ).read_text()
            expected = (
                "ValueError: flaky solver broke on fm2-001" if "001" in run.info.run_name else "non-finite"
            )
            assert "Traceback" in text and expected in text
        else:
            assert {"target.wav", "match.wav", "spectrogram.png"} <= names and "traceback.txt" not in names
    err = capsys.readouterr().err
    assert "2 target(s) FAILED" in err and "fm2-001: ValueError: flaky solver broke on fm2-001" in err
    assert first.failure_lines["fm2-001"] == "ValueError: flaky solver broke on fm2-001"

    # the fault is gone: the same config runs only the two targets that did not finish
    flaky.raise_on, flaky.nan_on = set(), set()
    second = runner.run(config(results))
    assert "resuming" in capsys.readouterr().out and not second.failed
    runs = store_runs(results)
    finished = [
        r.data.tags["soundmatch.target"] for r in by_level(runs, "target") if r.info.status == "FINISHED"
    ]
    assert sorted(finished) == ["fm2-000", "fm2-001", "fm2-002"]
    assert sorted(r.info.status for r in by_level(runs, "invocation")) == ["FAILED", "FINISHED"]

    # everything finished: skipped, in one line, and nothing is logged
    third = runner.run(config(results))
    out = capsys.readouterr().out.strip().splitlines()
    assert third.skipped and len(out) == 1 and out[0].startswith("skipped ") and "force=true" in out[0]
    assert len(store_runs(results)) == len(runs)

    # force=true runs it again; the leaderboard keeps the latest run per config and target
    runner.run(config(results, "force=true"))
    assert len(by_level(store_runs(results), "target")) == len(by_level(runs, "target")) + 3
    board = compute(default_uri(results), "soundmatch", metric="lsd", group_by=["solver"])
    assert board.table["n"].tolist() == [3]


@pytest.fixture
def foreground_sigint():
    """SIGINT raising KeyboardInterrupt, as in a foreground program, also where the tests run in a
    background job (which ignores SIGINT, and Python then keeps ignoring it); restored after."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_kills_the_current_run_and_keeps_the_finished_ones(tmp_path, flaky, foreground_sigint):
    results = tmp_path / "results"
    fresh_store(results)
    flaky.interrupt_on = {"fm2-001"}
    with pytest.raises(KeyboardInterrupt):
        runner.run(config(results))
    runs = store_runs(results)
    status = {r.data.tags["soundmatch.target"]: r.info.status for r in by_level(runs, "target")}
    assert status == {"fm2-000": "FINISHED", "fm2-001": "KILLED"}  # fm2-002 never started
    assert [r.info.status for r in by_level(runs, "invocation")] == ["KILLED"]
    # the killed target is a result on the leaderboard: counted, with its failure rate
    board = compute(default_uri(results), "soundmatch", metric="lsd", group_by=["solver"])
    assert board.table["n"].tolist() == [2] and board.table["failed"].tolist() == [1]
    assert board.table["failure_rate"].tolist() == [0.5] and any("KILLED" in n for n in board.notes)


def test_a_solver_that_raises_system_exit_fails_only_its_target(tmp_path, flaky):
    """SystemExit(0) from inside a plugin's search is that target's failure, not the run's success."""
    results = tmp_path / "results"
    fresh_store(results)
    flaky.exit_on = {"fm2-000"}
    outcome = runner.run(config(results))
    assert outcome.failed == ["fm2-000"] and [t.target for t in outcome.targets] == ["fm2-001", "fm2-002"]
    assert "SystemExit" in outcome.failure_lines["fm2-000"]
    runs = by_level(store_runs(results), "target")
    status = {r.data.tags["soundmatch.target"]: r.info.status for r in runs}
    assert status == {"fm2-000": "FAILED", "fm2-001": "FINISHED", "fm2-002": "FINISHED"}


def test_a_run_with_failed_targets_exits_non_zero_and_names_each_failure(tmp_path, flaky, capsys):
    from benchmark.cli.main import main

    flaky.raise_on = {"fm2-000", "fm2-001"}
    args = ["run", "solver=flaky", "synth=fm2", "target.n=2", "budget.renders=4", "duration=0.3",
            "sample_rate=8000", "metrics=[lsd]", "progress=false", f"results_dir={tmp_path / 'results'}"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "error: 2 target run(s) FAILED" in err
    assert "flaky on fm2 seed=0, fm2-000: ValueError: flaky solver broke on fm2-000" in err
    flaky.raise_on = set()
    assert main(args) == 0  # the resume runs the two failed targets, which now finish
    board = compute(default_uri(tmp_path / "results"), "soundmatch", metric="lsd", group_by=["solver"])
    assert board.table["failed"].tolist() == [0]  # the latest run of each target counts


def test_a_mixed_store_gives_one_row_per_comparable_group_with_failures_counted(tmp_path, flaky, capsys):
    """Random and cma at two budgets, cma under a second loss, and a solver that fails on one of two
    targets: the default grouping makes one row per task and solver, explicit --group-by solver is
    split anyway (and says so), failures are counted and scored as random search."""
    from benchmark.cli.main import main

    results = tmp_path / "results"
    base = ["synth=fm2", "target.n=2", "duration=0.3", "sample_rate=8000", "metrics=[lsd]",
            "progress=false", f"results_dir={results}"]  # fmt: skip
    for solver in ("random", "cma"):
        for renders in (4, 8):
            assert main(["run", f"solver={solver}", f"budget.renders={renders}", *base]) == 0
    assert main(["run", "solver=cma", "budget.renders=4", "loss=mss", *base]) == 0
    assert main(["run", "solver=random", "budget.renders=4", "loss=mss", *base]) == 0
    flaky.raise_on = {"fm2-001"}
    assert main(["run", "solver=flaky", "budget.renders=4", *base]) == 1
    capsys.readouterr()

    board = compute(default_uri(results), "soundmatch", metric="lsd")
    rows = {
        (r["loss"], r["budget.renders"], r["solver"]): (r["n"], r["failed"], r["score"])
        for _, r in board.table.iterrows()
    }
    assert set(rows) == {
        ("spectral_match", "4", "random"), ("spectral_match", "8", "random"),
        ("spectral_match", "4", "cma"), ("spectral_match", "8", "cma"),
        ("mss", "4", "cma"), ("mss", "4", "random"), ("spectral_match", "4", "flaky"),
    }  # fmt: skip
    n, failed, score = rows[("spectral_match", "4", "flaky")]
    assert (n, failed) == (2, 1)  # two targets, one of them failed
    assert np.isfinite(score)  # scored (the failed target as random search, 1), not left out
    assert board.table.loc[board.table["solver"] == "flaky", "failure_rate"].item() == 0.5
    assert all(r[0] == 2 and r[1] == 0 for k, r in rows.items() if k[2] != "flaky")
    explicit = compute(default_uri(results), "soundmatch", metric="lsd", group_by=["solver"])
    assert len(explicit.table) == 7
    assert any("split by" in note and "budget.renders" in note and "loss" in note for note in explicit.notes)


def test_two_identical_sweeps_started_together_run_each_target_once(tmp_path):
    """Two processes, same config, same store, started together: every target runs exactly once;
    the second takes what the first has not (the claim is made under the store's lock), and a
    live process's RUNNING runs are not taken for abandoned ones."""
    import os
    import subprocess
    import sys

    from sweep_support import finished_target_keys

    results = tmp_path / "results"
    fresh_store(results)
    args = [sys.executable, "-m", "benchmark", "run", "solver=random", "synth=fm2", "target.n=6",
            "budget.renders=64", "duration=0.5", "sample_rate=8000", "metrics=[lsd]", "progress=false",
            f"results_dir={results}"]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    procs = [subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-500:] for o in outs]
    keys = finished_target_keys(results / "mlflow.db")
    assert len(keys) == len(set(keys)) == 6, keys
    assert not any("left RUNNING; ran again" in o[0] for o in outs)


def test_of_two_claims_on_one_target_the_earlier_keeps_it_and_a_withdrawn_run_leaves_no_trace(tmp_path):
    """The check every process makes after creating its run (what makes claims safe through a
    tracking server, where there is no file lock): the earlier live claim wins, whoever checks."""
    import time

    from benchmark.run.tracking import OWNER_TAG, owner

    tracker = Tracker(fresh_store(tmp_path / "results"), "soundmatch")
    tags = {"soundmatch.config_hash": "c1", "soundmatch.target": "t1", "soundmatch.level": "target",
            OWNER_TAG: owner()}  # fmt: skip
    with tracker.run("t1", tags=tags) as first:
        time.sleep(0.01)
        with tracker.run("t1", tags=tags) as second:
            assert tracker.lost_claim("c1", "t1", first) is None
            assert "being run by process" in tracker.lost_claim("c1", "t1", second)
            tracker.withdraw(second)
        assert [r.info.run_id for r in tracker.search("tags.`soundmatch.target` = 't1'")] == [first]
    with tracker.run("t1", tags=tags) as late:  # the first has finished: nothing left to claim
        assert tracker.lost_claim("c1", "t1", late) == "finished meanwhile by another process"
        tracker.withdraw(late)
    # a RUNNING run of another machine holds its target for the lease after its start, then not
    from benchmark.run.tracking import CLAIM_LEASE_S, owner_alive

    now_ms = int(time.time() * 1000)
    expired = now_ms - 2000 * CLAIM_LEASE_S
    assert owner_alive("elsewhere:1", now_ms) and not owner_alive("elsewhere:1", expired)
    assert not owner_alive("") and owner_alive(owner())


def test_a_full_disk_stops_the_sweep_with_one_line_and_ends_its_runs(tmp_path, monkeypatch, capsys):
    """Writing a target's artifacts fails with ENOSPC: one line naming the cause, exit 2, the runs
    already finished kept, none left RUNNING."""
    import errno

    from benchmark.cli.main import main
    from benchmark.run import artifacts

    real, calls = artifacts.write_wav, []

    def fills_up(path, audio, rate):
        calls.append(path)
        if len(calls) > 2:  # target 1's two files go through, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, audio, rate)

    monkeypatch.setattr(artifacts, "write_wav", fills_up)
    results = tmp_path / "results"
    args = ["run", "solver=random", "synth=fm2", "target.n=3", "budget.renders=4", "duration=0.3",
            "sample_rate=8000", "metrics=[lsd]", "progress=false", f"results_dir={results}"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no space left on the device" in err[0] and "fm2-001" in err[0], err
    runs = store_runs(results)
    assert not [r for r in runs if r.info.status == "RUNNING"]
    done = [r.data.tags["soundmatch.target"] for r in by_level(runs, "target") if r.info.status == "FINISHED"]
    assert done == ["fm2-000"]
