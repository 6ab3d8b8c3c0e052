"""random and cma: budget respected, populations batched, cma finds a known optimum."""

import numpy as np
import pytest
import torch

from benchmark.run.solve import solve_one
from losses.mss import MultiScaleSpectral
from solvers.base import Budget, Problem, Target
from solvers.cma_es import CMAES
from solvers.random_search import RandomSearch
from synths.base import Note
from synths.fm2 import FM2

SR = 8000


class CountingSynth(FM2):
    """fm2 that records the batch size of every render."""

    def __post_init__(self):
        super().__post_init__()
        self.batches = []

    def render(self, params, **kw):
        self.batches.append(params.shape[0])
        return super().render(params, **kw)


def make_problem(renders: int, synth=None, seed: int = 0, duration: float = 0.25) -> Problem:
    synth = synth or FM2(index_envelope=False)
    x_true = synth.sample(1, torch.Generator().manual_seed(42))
    audio = synth.render(x_true, sample_rate=SR, duration=duration, note=Note())[0]
    target = Target(audio, SR, "t", note=Note(), params=x_true[0])
    return Problem(synth, target, MultiScaleSpectral(SR, fft_sizes=[512, 128]), Budget(renders), seed=seed)


@pytest.mark.parametrize("solver", [RandomSearch(batch_size=16), CMAES(popsize=12)])
def test_budget_is_respected_exactly(solver):
    problem = make_problem(100)
    x, _ = solve_one(solver, problem)
    assert problem.renders == 100 and x.shape == (problem.dim,)


def test_cma_population_is_one_batch():
    synth = CountingSynth(index_envelope=False)
    problem = make_problem(60, synth)
    synth.batches.clear()
    solve_one(CMAES(popsize=12), problem)
    assert set(synth.batches) == {12}


def test_cma_beats_random_at_equal_budget():
    rs, cm = [], []
    for seed in range(3):
        p = make_problem(300, seed=seed, duration=0.1)
        solve_one(RandomSearch(), p)
        rs.append(p.best_loss)
        q = make_problem(300, seed=seed, duration=0.1)
        solve_one(CMAES(), q)
        cm.append(q.best_loss)
    assert np.mean(cm) < np.mean(rs)


def test_same_seed_same_result():
    a, b = make_problem(80, seed=5), make_problem(80, seed=5)
    xa, _ = solve_one(CMAES(), a)
    xb, _ = solve_one(CMAES(), b)
    assert torch.equal(xa, xb)
