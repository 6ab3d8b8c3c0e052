"""A property test of the plugin surface: whatever a plugin solver's code does -- renders some, then
raises anything (``SystemExit`` and ``KeyboardInterrupt`` included) or returns anything -- a run
ends in results or in named FAILED targets: exit 0, 1 (targets failed) or 2 (one line), never a
traceback on the terminal, never a run left RUNNING, and the other target still runs."""

from __future__ import annotations

import re
import sqlite3
import tempfile
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers.base import Result, Solver, solver_registry

RAISES = {
    "ValueError": ValueError("bad value"),
    "RuntimeError": RuntimeError("broken"),
    "SystemExit(0)": SystemExit(0),
    "SystemExit(3)": SystemExit(3),
    "KeyboardInterrupt": KeyboardInterrupt(),
    "GeneratorExit": GeneratorExit(),
    "MemoryError": MemoryError(),
    "RecursionError": RecursionError("deep"),
    "AssertionError": AssertionError("no"),
    "StopIteration": StopIteration(),
}


def returned(kind: str, dim: int):
    """What the plugin's ``solve`` returns, by name."""
    return {
        "None": None,
        "Result(None)": Result(None),
        "a good point": Result(torch.full((dim,), 0.5)),
        "wrong shape": Result(torch.zeros(dim + 3)),
        "NaN": Result(torch.full((dim,), float("nan"))),
        "outside the cube": Result(torch.full((dim,), 7.0)),
        "integers": Result(torch.zeros(dim, dtype=torch.int64)),
        "not a Result": 42,
        "info not a dict": Result(torch.full((dim,), 0.5), info="junk"),  # type: ignore[arg-type]
        "junk controls": Result(torch.full((dim,), 0.5), controls={"f0": "junk"}),  # type: ignore[dict-item]
    }[kind]


def plugin(renders: int, raises: str | None, returns: str, on_target: int | None) -> type[Solver]:
    """A solver class that renders ``renders`` points, then raises ``RAISES[raises]`` or returns
    ``returns``, on every target (``on_target`` None) or only on that one (0-based)."""

    class Misbehaving(Solver):
        name = "misbehaving"
        seen = 0

        def solve(self, problem):
            index, type(self).seen = type(self).seen, type(self).seen + 1
            if renders:
                problem.evaluate(torch.rand(renders, problem.dim, generator=problem.generator))
            if on_target is None or index == on_target:
                if raises is not None:
                    raise RAISES[raises]
                return returned(returns, problem.dim)
            return Result(problem.best_x if problem.best_x is not None else torch.full((problem.dim,), 0.5))

    return Misbehaving


RESULTS = Path(tempfile.mkdtemp(prefix="plugin-surface-"))  # one store; one experiment per example


def statuses(experiment: str) -> list[str]:
    db = RESULTS / "mlflow.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as con:
        query = ("select r.status from runs r join experiments e on r.experiment_id = e.experiment_id "
                 "where e.name = ?")  # fmt: skip
        return [row[0] for row in con.execute(query, (experiment,))]


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(
    renders=st.integers(0, 3),
    raises=st.none() | st.sampled_from(sorted(RAISES)),
    returns=st.sampled_from(["None", "Result(None)", "a good point", "wrong shape", "NaN", "outside the cube",
                             "integers", "not a Result", "info not a dict", "junk controls"]),  # fmt: skip
    on_target=st.none() | st.integers(0, 1),
)
def test_whatever_a_plugin_does_the_run_ends_in_results_or_named_failures(
    main_cli, monkeypatch, renders, raises, returns, on_target
):
    solver_registry.names()  # load the registry before adding to it
    monkeypatch.setitem(solver_registry._entries, "misbehaving", plugin(renders, raises, returns, on_target))
    experiment = re.sub(r"\W", "_", f"{renders}-{raises}-{returns}-{on_target}")
    out = main_cli("run", "solver=misbehaving", "synth=fm2", "target.n=2", "budget.renders=8",
                   "duration=0.25", "sample_rate=8000", "metrics=[lsd]", "progress=false",
                   f"results_dir={RESULTS}", f"tracking.experiment={experiment}", "force=true")  # fmt: skip
    assert out.returncode in (0, 1, 2), (out.returncode, out.stderr[-1500:])
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout, out.stderr[-1500:]
    assert "RUNNING" not in statuses(experiment)
    if out.returncode == 2:  # the plugin's answer is one the user must change: one line
        errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1, out.stderr[-1500:]
    if raises is not None:  # a raise fails its target, names it, and the other target still runs
        assert out.returncode == 1, out.stderr[-1500:]
        assert "target run(s) FAILED" in out.stderr and raises.split("(")[0] in out.stderr
        finished = statuses(experiment).count("FINISHED")
        assert finished == (1 if on_target is not None else 0)  # the other target; not the invocation
    if raises is None and returns == "a good point":
        assert out.returncode == 0, out.stderr[-1500:]
