"""Fairness over the whole solver registry: budgets hold, and the loss a run reports is real.

Every registered solver (built-in or plugin) runs on tiny fm2 problems the way
the runner runs it (``build`` -> ``fit`` -> ``solve_one`` -> ``score``). It must
spend no more renders than its budget, and the best loss the problem recorded
must equal the loss the runner re-evaluates on the parameters the solver
returned: no solver can report a point it did not evaluate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from benchmark.run.solve import score, solve_one
from benchmark.run.spec import build, suite_loader
from benchmark.run.targets.base import SuiteContext
from losses.mss import MultiScaleSpectral
from solvers.base import Budget, Problem, Target, Task, solver_registry
from synths.base import Note, synth_registry

SR, DURATION = 8000, 0.2
NOTE = Note(60.0, 100)

# options that keep a solver tiny here (training steps, populations); others run with defaults
TINY = {
    "cma": {"popsize": 6},
    "ga": {"population": 10},
    "ng": {"optimizer": "TwoPointsDE", "batch_size": 8},
    "random": {"batch_size": 16},
    "encoder": {"steps": 2, "batch_size": 4, "hidden": 16, "n_mels": 16},
    "pca_kmeans": {"n_samples": 48, "n_clusters": 3, "n_components": 3, "starts": 2, "render_batch": 48},
    "hybrid": {"split": 0.5, "top_k": 2, "explore": {"name": "ga", "population": 8}},
    "retrieval": {"notes": [60.0], "candidates": 4, "split": "all"},
}
# solvers tied to one synth run on a small one of it; every other one runs on fm2
SYNTH = {
    "implicit_fm": {"name": "implicit_fm", "n_nodes": 8},
    "retrieval": {"name": "dx7", "algorithm": None},
}
# resynthesis solvers train on a recorded corpus and return time-varying controls, not a point of the
# cube: their budget and honest-score checks are in tests/test_resynth_solvers.py
CONTROL_SOLVERS = {"ddx7", "hpn"}
POINT_SOLVERS = [name for name in solver_registry.names() if name not in CONTROL_SOLVERS]


def made_corpus(synth: Any, folder: Path) -> Path:
    """A folder with one bank of 32 voices drawn from ``synth``'s prior (seeded)."""
    from synths.dx7.sysex import write_bank

    voices = [synth.unit_to_voice(x) for x in synth.sample(32, torch.Generator().manual_seed(3))]
    folder.mkdir(parents=True, exist_ok=True)
    write_bank(folder / "made.syx", voices)
    return folder


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Callable[[str], tuple[Any, Any, Any]]:
    """``fitted(name)``: (solver, synth, loss), built as the runner builds them and fitted once per module."""
    cache: dict[str, tuple[Any, Any, Any]] = {}
    folder = tmp_path_factory.mktemp("fit-cache")

    def get(name: str) -> tuple[Any, Any, Any]:
        if name not in cache:
            synth = build(synth_registry, OmegaConf.create(SYNTH.get(name, {"name": "fm2"})))
            loss = MultiScaleSpectral(SR, fft_sizes=[512, 128])
            options = dict(TINY.get(name, {}))
            if name == "retrieval":  # a gallery of made presets (one bank of the synth's own voices)
                options["corpus"] = str(made_corpus(synth, folder / "corpus"))
            solver = build(solver_registry, OmegaConf.create({"name": name, **options}))
            context = SuiteContext(synth, SR, DURATION, NOTE, torch.device("cpu"))
            solver.fit(Task(synth, loss, SR, DURATION, NOTE, "cpu", folder, suite_loader(context)))
            cache[name] = (solver, synth, loss)
        return cache[name]

    return get


def problem_for(synth: Any, loss: Any, renders: int, seed: int = 0) -> Problem:
    x_true = synth.sample(1, torch.Generator().manual_seed(7))
    with torch.no_grad():
        audio = synth.render(x_true, sample_rate=SR, duration=DURATION, note=NOTE)[0]
    target = Target(audio, SR, "fair", note=NOTE, params=x_true[0])
    return Problem(synth, target, loss, Budget(renders), seed=seed)


@pytest.mark.parametrize("solver_name", POINT_SOLVERS)
@pytest.mark.parametrize("renders", [1, 23])
def test_no_solver_exceeds_its_budget_and_its_best_loss_is_real(solver_name, renders, fitted):
    solver, synth, loss = fitted(solver_name)
    problem = problem_for(synth, loss, renders)
    x, _ = solve_one(solver, problem)
    assert 1 <= problem.renders <= renders
    assert all(a.renders < b.renders for a, b in zip(problem.curve, problem.curve[1:], strict=False))
    assert problem.curve[-1].renders == problem.renders
    values, _ = score(problem, x, [])
    assert math.isfinite(problem.best_loss)
    assert values["loss"] == pytest.approx(problem.best_loss, rel=1e-4, abs=1e-6)
