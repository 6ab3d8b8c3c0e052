"""The budget holds whatever a solver does: every render it makes is counted, a solver over its
seconds is stopped by the harness, and a solver's own exceptions stay inside its target."""

from __future__ import annotations

import math
import time

import pytest
import torch

from benchmark.run.solve import HARD_STOP_GRACE, SolverFailed, solve_one
from losses.base import loss_registry
from solvers.base import Budget, BudgetExhausted, Problem, Result, Solver, Target
from synths.base import Note, synth_registry

SR = 8000
BUDGET = 20


def problem(budget: Budget, synth: str = "fm2") -> Problem:
    s = synth_registry.create(synth)
    target_x = s.sample(1, torch.Generator().manual_seed(1))
    audio = s.render(target_x, sample_rate=SR, duration=0.25, note=Note(60.0))[0]
    loss = loss_registry.create("mss", sample_rate=SR)
    return Problem(s, Target(audio, SR, "t", note=Note(60.0)), loss, budget, seed=0)


def _own_loss(p: Problem, audio: torch.Tensor) -> torch.Tensor:
    return (audio - p.target.audio[: audio.shape[-1]]).square().mean(dim=-1)


# every way a solver could learn how good a candidate is, each scoring 500 candidates one by one
PEEKS = {
    "loss_of": lambda p, x: p.loss_of(x),
    "problem.render": lambda p, x: _own_loss(p, p.render(x)),
    "synth.render": lambda p, x: _own_loss(
        p, p.synth.render(x, sample_rate=SR, duration=p.duration, note=p.target.note)
    ),
    "synth.stages": lambda p, x: _own_loss(
        p, p.synth.stages(x, sample_rate=SR, duration=p.duration, note=p.target.note)["output"]
    ),
    "a new synth": lambda p, x: _own_loss(
        p, synth_registry.create("fm2").render(x, sample_rate=SR, duration=p.duration, note=p.target.note)
    ),
    "bound loss of a render": lambda p, x: p._bound_loss(p.render(x)),
}


class Peeker(Solver):
    """Scores 500 random candidates through ``peek``, then returns the best: a budget dodge."""

    name = "peeker"

    def __init__(self, peek):
        self.peek = peek

    def solve(self, problem: Problem) -> Result:
        best, best_loss = torch.zeros(problem.dim), math.inf
        for _ in range(500):
            x = torch.rand(1, problem.dim, generator=problem.generator)
            try:
                loss = float(self.peek(problem, x)[0])
            except BudgetExhausted:  # a dodger keeps what it saw
                break
            if loss < best_loss:
                best, best_loss = x[0], loss
        return Result(best)


@pytest.mark.parametrize("how", sorted(PEEKS))
def test_every_render_a_solver_makes_is_counted(how):
    p = problem(Budget(BUDGET))
    x, _ = solve_one(Peeker(PEEKS[how]), p)
    assert p.renders == BUDGET  # the 21st render was refused: BudgetExhausted ended the search
    assert x.shape == (p.dim,)


def test_the_counted_paths_are_counted_once():
    p = problem(Budget(BUDGET))

    class Honest(Solver):
        name = "honest"

        def solve(self, problem):
            problem.evaluate(torch.rand(4, problem.dim, generator=problem.generator))
            problem.value_and_grad(torch.rand(3, problem.dim, generator=problem.generator))
            return Result(problem.best_x)

    solve_one(Honest(), p)
    assert p.renders == 7 and p.backwards == 3


def test_the_harness_renders_free_outside_a_search():
    p = problem(Budget(BUDGET))
    p.render(torch.rand(5, p.dim))
    p.loss_of(torch.rand(5, p.dim))
    assert p.renders == 0


class Sleeper(Solver):
    """Evaluates one batch, then sleeps far past any budget, ignoring it."""

    name = "sleeper"

    def solve(self, problem):
        problem.evaluate(torch.rand(2, problem.dim, generator=problem.generator))
        time.sleep(600)
        return Result(torch.zeros(problem.dim))


def test_a_sleeping_solver_is_stopped_and_its_best_point_scored():
    p = problem(Budget(renders=None, seconds=1.0))
    t0 = time.perf_counter()
    x, info = solve_one(Sleeper(), p)
    took = time.perf_counter() - t0
    assert took < 1.0 + HARD_STOP_GRACE + 2.0
    assert info["over_time"] is True and torch.equal(x, p.best_x)  # not what it would return later
    with pytest.raises(BudgetExhausted):
        p.evaluate(torch.rand(1, p.dim))  # the abandoned search renders nothing more


@pytest.mark.parametrize("raised", [SystemExit(0), KeyboardInterrupt(), GeneratorExit()])
def test_a_solvers_base_exceptions_are_its_failure(raised):
    class Quitter(Solver):
        name = "quitter"

        def solve(self, problem):
            raise raised

    with pytest.raises(SolverFailed, match=type(raised).__name__):
        solve_one(Quitter(), problem(Budget(BUDGET)))


def test_a_solvers_ordinary_exception_keeps_its_type():
    class Broken(Solver):
        name = "broken"

        def solve(self, problem):
            raise ValueError("bad plugin")

    with pytest.raises(ValueError, match="bad plugin"):
        solve_one(Broken(), problem(Budget(BUDGET)))


def test_a_sleeping_plugin_through_run_ends_within_ten_seconds_of_its_limit(main_cli, monkeypatch):
    """A plugin solver that sleeps, run as a user runs it with budget.seconds=3: the target finishes
    with its one evaluated point, marked over time, and the command returns."""
    from solvers.base import solver_registry

    solver_registry.names()
    monkeypatch.setitem(solver_registry._entries, "sleeper", Sleeper)
    t0 = time.perf_counter()
    out = main_cli("run", "solver=sleeper", "synth=fm2", "target.n=1", "budget.seconds=3", "duration=0.25",
                   "sample_rate=8000", "metrics=[lsd]", "progress=false")  # fmt: skip
    took = time.perf_counter() - t0
    assert out.returncode == 0, out.stderr
    assert "overran budget.seconds" in out.stderr
    assert took < 3 + 10 + 5  # the limit, the allowed 10 s, and the run's own set-up


def test_sigterm_ends_the_run_killed_as_ctrl_c_does(workdir):
    """SIGTERM (a scheduler's or `kill`'s) ends the run in progress KILLED, never left RUNNING."""
    import os
    import signal
    import subprocess
    import sys

    from benchmark.run.tracking import Tracker, default_uri

    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmark", "run", "solver=random", "synth=fm2", "target.n=1",
         "budget.renders=2000000", "duration=0.25", "sample_rate=8000", "metrics=[lsd]", "progress=false"],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    store = workdir / "results" / "mlflow.db"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the target's run is open in the store
        time.sleep(1.0)
        if store.exists() and len(Tracker(default_uri(workdir / "results"), "soundmatch").search("")) >= 2:
            break
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "terminated" in err
    runs = Tracker(default_uri(workdir / "results"), "soundmatch").search("")
    assert runs and {r.info.status for r in runs} == {"KILLED"}
