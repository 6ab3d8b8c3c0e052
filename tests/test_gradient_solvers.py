"""Gradient solvers: budget accounting, multi-start, x0, reparametrisations, surrogate."""

from __future__ import annotations

import pytest
import torch

from losses.base import loss_registry
from solvers.base import Budget, Problem, Target, solver_registry
from soundmatch.errors import UserError
from synths.base import Param, ParamSpec, Synth
from synths.fm2 import FM2

SR = 8000


class Quadratic(Synth):
    """A toy 'synth' whose output is its parameters: the L2 loss is a quadratic bowl."""

    name = "quadratic"

    @property
    def spec(self) -> ParamSpec:
        return ParamSpec([Param("a"), Param("b"), Param("c", choices=("x", "y"))])

    def render(self, params, *, sample_rate, duration, note=None):
        choice = self.spec["c"].to_physical(params[:, 2]).float()
        return 10 * torch.cat([params[:, :2], choice.unsqueeze(-1)], dim=-1).repeat_interleave(4, dim=-1)


def _bowl(budget: int = 300) -> tuple[Problem, torch.Tensor]:
    x_true = torch.tensor([[0.3, 0.8, 0.75]])
    synth = Quadratic()
    audio = synth.render(x_true, sample_rate=SR, duration=1.0)[0]
    return Problem(
        synth, Target(audio, SR, "bowl", params=x_true[0]), loss_registry.create("l2"), Budget(budget)
    ), x_true


@pytest.mark.parametrize("name,lr", [("adam", 0.2), ("sgd", 0.01), ("lbfgs", 0.5)])
@pytest.mark.parametrize("reparam", ["sigmoid", "clamp"])
def test_solvers_find_the_bottom_of_a_bowl(name, lr, reparam):
    problem, x_true = _bowl()
    if reparam == "clamp" and name != "lbfgs":
        lr /= 5  # steps in cube units rather than logits
    result = solver_registry.create(name, lr=lr, reparam=reparam, starts=3, patience=1000).solve(problem)
    assert problem.renders == 300 and problem.backwards == 300
    # plain SGD crawls where the sigmoid flattens the bowl; the others converge
    assert torch.allclose(result.x[:2], x_true[0, :2], atol=0.05 if name == "sgd" else 0.02)
    assert problem.best_loss < 0.1  # one of the starts began in the right categorical cell


def test_x0_starts_are_used_and_categoricals_stay_fixed():
    problem, x_true = _bowl(100)
    x0 = torch.tensor([[0.5, 0.5, 0.1], [0.2, 0.9, 0.9]])
    solver = solver_registry.create("adam", lr=0.3, restarts=False)
    result = solver.solve(problem, x0=x0)
    assert problem.renders == 100  # 2 starts x 50 steps
    # start 2 sits in the target's categorical cell, start 1 cannot leave its own
    assert float(result.x[2]) == pytest.approx(0.9, abs=1e-4)
    assert torch.allclose(result.x[:2], x_true[0, :2], atol=0.02)


def test_early_stop_and_restarts_spend_the_budget():
    problem, _ = _bowl(400)
    result = solver_registry.create("adam", lr=0.2, starts=2, patience=5, tol=1e-2).solve(problem)
    assert problem.renders == 400
    assert result.info["rounds"] > 1 and result.info["early_stops"] >= 2


def test_bad_options_are_user_errors():
    with pytest.raises(UserError, match="reparam"):
        solver_registry.create("adam", reparam="tanh")
    with pytest.raises(UserError, match="schedule"):
        solver_registry.create("sgd", schedule="steps")
    problem, _ = _bowl()
    with pytest.raises(UserError, match="sinusoidal"):
        solver_registry.create("adam", surrogate=True).solve(problem)


def test_surrogate_on_fm2_counts_renders_and_matches_render_at_r1():
    synth = FM2()
    x = synth.sample(3, torch.Generator().manual_seed(0))
    kw = dict(sample_rate=SR, duration=0.1)
    undamped = synth.render_surrogate(x, torch.ones(3, 1), **kw)
    assert torch.allclose(undamped, synth.render(x, **kw), atol=1e-6)
    omega = synth.surrogate_omega(x, sample_rate=SR)
    assert torch.allclose(synth.surrogate_unit(omega, sample_rate=SR)[:, 0], x[:, 0], atol=1e-5)

    x_true = synth.sample(1, torch.Generator().manual_seed(1))
    audio = synth.render(x_true, **kw)[0]
    loss = loss_registry.create("mss", sample_rate=SR, fft_sizes=[256, 64])
    problem = Problem(synth, Target(audio, SR, "t", params=x_true[0]), loss, Budget(60))
    result = solver_registry.create("adam", surrogate=True, starts=2, surrogate_check=10).solve(problem)
    assert problem.renders == 60
    assert problem.backwards < problem.renders  # the undamped checks are forward-only
    assert result.x is not None and torch.isfinite(torch.tensor(problem.best_loss))
