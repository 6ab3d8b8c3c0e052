"""Problem: budget accounting, best-so-far tracking and the anytime curve."""

import math

import pytest
import torch

from losses.l2 import L2
from solvers.base import Budget, BudgetExhausted, Problem, Target
from soundmatch.errors import UserError
from synths.base import Note
from synths.fm2 import FM2

SR = 8000


@pytest.fixture
def problem() -> Problem:
    synth = FM2()
    x_true = synth.sample(1, torch.Generator().manual_seed(0))
    audio = synth.render(x_true, sample_rate=SR, duration=0.1, note=Note())[0]
    target = Target(audio, SR, "t0", note=Note(), params=x_true[0])
    return Problem(synth, target, L2(SR), Budget(renders=10), seed=1)


def test_evaluate_counts_and_tracks_best(problem):
    x = torch.rand(4, problem.dim, generator=problem.generator)
    losses = problem.evaluate(x)
    assert losses.shape == (4,) and problem.renders == 4
    assert problem.best_loss == pytest.approx(float(losses.min()))
    assert torch.equal(problem.best_x, x[int(losses.argmin())])
    assert problem.curve[-1].renders == 4 and problem.curve[-1].best_loss == problem.best_loss


def test_batches_past_the_budget_are_cut_then_stopped(problem):
    problem.evaluate(torch.rand(8, problem.dim))
    with pytest.raises(BudgetExhausted):
        problem.evaluate(torch.rand(8, problem.dim))
    assert problem.renders == 10 and problem.exhausted
    with pytest.raises(BudgetExhausted):
        problem.evaluate(torch.rand(1, problem.dim))
    assert problem.renders == 10


def test_best_loss_is_never_better_than_a_re_evaluation(problem):
    for _ in range(2):
        problem.evaluate(torch.rand(5, problem.dim))
    assert problem.loss_of(problem.best_x[None]).item() == pytest.approx(problem.best_loss, rel=1e-5)
    best = [p.best_loss for p in problem.curve]
    assert best == sorted(best, reverse=True)


def test_truth_has_zero_loss_and_out_of_cube_is_clamped(problem):
    problem.evaluate(problem.target.params[None])
    assert problem.best_loss == pytest.approx(0.0, abs=1e-12)
    problem.evaluate(torch.full((1, problem.dim), 7.0))
    assert problem.renders == 2


def test_value_and_grad_counts_one_render_per_row(problem):
    losses, grad = problem.value_and_grad(torch.rand(3, problem.dim))
    assert losses.shape == (3,) and grad.shape == (3, problem.dim)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert problem.renders == 3 and problem.backwards == 3


def test_time_budget_and_bad_budgets():
    assert Budget(renders=None, seconds=0.0)
    with pytest.raises(UserError):
        Budget(renders=None, seconds=None)
    with pytest.raises(UserError):
        Budget(renders=0)


def test_nan_losses_never_become_best(problem):
    class NanLoss(L2):
        def compare(self, pred, feats):
            out = super().compare(pred, feats)
            out[0] = math.nan
            return out

    p = Problem(problem.synth, problem.target, NanLoss(SR), Budget(renders=4))
    losses = p.evaluate(torch.rand(2, p.dim))
    assert math.isnan(losses[0]) and p.best_loss == pytest.approx(float(losses[1]))
