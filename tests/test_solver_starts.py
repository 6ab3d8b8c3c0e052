"""solver.x0=analysis: cma, ga, ng, hybrid and the gradient solvers can start where fm_match starts."""

from __future__ import annotations

import pytest
import torch

from losses.mss import MultiScaleSpectral
from solvers import starts
from solvers.base import Budget, Problem, Target, solver_registry
from solvers.fm_match import analytic_start
from solvers.starts import start_points
from soundmatch.errors import UserError
from synths.base import Note
from synths.fm2 import FM2

SR, DUR = 8000, 0.25


class Recording(Problem):
    """A Problem that keeps every batch it was asked to render."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches: list[torch.Tensor] = []

    def evaluate(self, x):
        self.batches.append(x.detach().clone())
        return super().evaluate(x)

    def value_and_grad(self, x):
        self.batches.append(x.detach().clone())
        return super().value_and_grad(x)


def problem(renders: int) -> Recording:
    synth = FM2(index_envelope=False, hold=0.2)
    x = synth.spec.to_unit(
        {
            "ratio": 3.0,
            "index": 2.0,
            "gain": 0.4,
            "attack": 0.01,
            "decay": 0.05,
            "sustain": 0.7,
            "release": 0.05,
        }
    )
    with torch.no_grad():
        audio = synth.render(x[None], sample_rate=SR, duration=DUR, note=Note(62.0))[0]
    target = Target(audio, SR, "t", note=Note(62.0))
    return Recording(synth, target, MultiScaleSpectral(SR, fft_sizes=[256, 64]), Budget(renders), seed=3)


def test_analysis_points_start_with_the_analytic_start_and_cost_no_render():
    p = problem(10)
    rows = start_points(p, "analysis", 12)
    assert rows.shape == (12, p.dim) and p.renders == 0
    assert torch.allclose(rows[0], analytic_start(p))
    assert bool(((rows >= 0) & (rows <= 1)).all())


@pytest.mark.parametrize(
    "config, exact",
    [
        ({"name": "ga", "population": 8, "init": "analysis"}, True),
        ({"name": "adam", "starts": 2, "x0": "analysis"}, True),
        ({"name": "cma", "popsize": 6, "x0": "analysis"}, False),
        ({"name": "ng", "optimizer": "OnePlusOne", "batch_size": 4, "x0": "analysis"}, False),
        ({"name": "hybrid", "x0": "analysis", "explore": {"name": "cma", "popsize": 6}}, False),
    ],
)
def test_solvers_start_from_the_analysis(config, exact):
    p = problem(24)
    options = dict(config)
    solver = solver_registry.create(options.pop("name"), **options)
    solver.solve(p)
    assert p.renders <= 24
    if config["name"] != "hybrid":  # (hybrid's stage sees the problem through a view)
        assert p in starts._plans  # the analysis was read for this problem
    first = p.batches[0]
    if exact:  # the first population / starts are the analysis points themselves
        assert torch.allclose(first[0], analytic_start(p), atol=1e-3)  # adam clamps to [1e-4, 1 - 1e-4]
    else:  # sampled around it: the first batch's mean lies near it
        assert float((first.mean(0) - analytic_start(p)).abs().mean()) < 0.25


def test_unknown_starts_are_one_clear_error():
    with pytest.raises(UserError, match="solver.x0"):
        solver_registry.create("adam", x0="somewhere")
    with pytest.raises(UserError, match="cannot start from the analysis"):
        solver_registry.create("hybrid", x0="analysis", explore={"name": "random"})
