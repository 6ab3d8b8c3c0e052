"""cma restarts, ga operators, ng by name, hybrid staging and Problem.limit, on cheap toy problems."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from benchmark.run.solve import solve_one
from losses.l2 import L2
from solvers.base import Budget, BudgetExhausted, Problem, Result, Solver, Target, Task
from solvers.cma_es import CMAES
from solvers.ga import GeneticAlgorithm
from solvers.hybrid import Hybrid, _BestPoints
from solvers.ng import Nevergrad, SpecSpace
from soundmatch.errors import UserError
from synths.base import Param, ParamSpec, Synth

SR = 1000


@dataclass
class EchoSynth(Synth):
    """Renders its unit parameters as the waveform itself (one sample per parameter, repeated).

    With the l2 loss the problem is a sphere, ``mean (x - x*)^2``: cheap, smooth and
    solvable exactly, so solver logic is tested without audio costs. ``n_choices``
    adds one categorical parameter at the end.
    """

    dim_continuous: int = 4
    n_choices: int = 0
    differentiable_: bool = True

    name = "echo"

    def __post_init__(self) -> None:
        params = [Param(f"p{i}") for i in range(self.dim_continuous)]
        if self.n_choices:
            params.append(Param("choice", choices=tuple(range(self.n_choices))))
        self._spec = ParamSpec(params)
        self.batches: list[int] = []

    @property
    def spec(self) -> ParamSpec:
        return self._spec

    @property
    def differentiable(self) -> bool:  # type: ignore[override]
        return self.differentiable_

    def render(self, params, *, sample_rate, duration, note=None):
        self.batches.append(params.shape[0])
        n = int(round(sample_rate * duration))
        return params.repeat_interleave(n // params.shape[1], dim=1)


def echo_problem(renders: int, seed: int = 0, optimum=None, **synth_options) -> Problem:
    synth = EchoSynth(**synth_options)
    x_true = torch.tensor(optimum) if optimum is not None else torch.full((synth.dim,), 0.3)
    duration = synth.dim * 10 / SR
    audio = synth.render(x_true.unsqueeze(0), sample_rate=SR, duration=duration)[0]
    synth.batches.clear()
    target = Target(audio, SR, "sphere", params=x_true)
    return Problem(synth, target, L2(SR), Budget(renders), seed=seed)


@dataclass
class SignDescent(Solver):
    """A tiny gradient solver taking starting points, standing in for adam in hybrid's tests."""

    lr: float = 0.02
    starts: list = None  # type: ignore[assignment]

    name = "sign_descent"

    def solve(self, problem: Problem, x0=None) -> Result:
        self.starts = [x0.clone()]
        x = x0.clone()
        while not problem.exhausted:
            _, grad = problem.value_and_grad(x)
            x = (x - self.lr * grad.sign()).clamp(0, 1)
        return Result(problem.best_x)


# --- Problem.limit ---------------------------------------------------------------------


def test_limit_caps_spending_and_lifts_on_exit():
    problem = echo_problem(100)
    with problem.limit(30):
        assert problem.remaining == 30
        problem.evaluate(torch.rand(20, problem.dim))
        with pytest.raises(BudgetExhausted):
            problem.evaluate(torch.rand(20, problem.dim))  # cut to the 10 left under the cap
        assert problem.exhausted and problem.renders == 30
    assert not problem.exhausted and problem.remaining == 70
    with problem.limit(500):  # a cap past the budget: the budget still holds
        assert problem.remaining == 70
    assert len(problem.curve) == 2 and problem.curve[-1].renders == 30


# --- cma ---------------------------------------------------------------------------------


def run_cma(restarts: str, renders: int = 1500, seed: int = 0) -> tuple[Problem, list[dict]]:
    problem = echo_problem(renders, seed=seed)
    result = CMAES(restarts=restarts, popsize=6, sigma0=0.3, options={"tolfun": 1e-6}).solve(problem)
    return problem, result.info["runs"]


def test_ipop_doubles_the_population_at_every_restart():
    problem, runs = run_cma("ipop")
    assert len(runs) >= 3, runs  # the sphere converges quickly, so restarts do happen
    assert [r["popsize"] for r in runs] == [6 * 2**i for i in range(len(runs))]
    assert all(r["sigma0"] == 0.3 for r in runs)
    assert problem.renders <= 1500 and problem.best_loss < 1e-6
    assert set(problem.synth.batches) <= {6 * 2**i for i in range(len(runs))}  # one batch per generation


def test_bipop_interlaces_a_large_and_a_small_regime():
    problem, runs = run_cma("bipop", seed=1)
    large = [r for r in runs if r["regime"] == "large"]
    small = [r for r in runs if r["regime"] == "small"]
    assert large and small, runs
    assert [r["popsize"] for r in large] == [6 * 2**i for i in range(len(large))]
    for r in small:
        assert 2 <= r["popsize"] <= max(6, large[-1]["popsize"] // 2)
        assert 0.3 * 1e-2 <= r["sigma0"] <= 0.3
    # budgets of the regimes stay comparable (each restart goes to the one behind)
    spent_large = sum(r["renders"] for r in large)
    spent_small = sum(r["renders"] for r in small)
    assert spent_small <= spent_large + max(r["renders"] for r in small)
    assert problem.best_loss < 1e-6


def test_cma_is_reproducible_from_the_problem_seed():
    a, runs_a = run_cma("bipop", renders=800, seed=5)
    b, runs_b = run_cma("bipop", renders=800, seed=5)
    assert runs_a == runs_b and torch.equal(a.best_x, b.best_x)


def test_cma_rejects_unknown_restart_strategy():
    with pytest.raises(UserError, match="restarts"):
        CMAES(restarts="lipop")


# --- ga ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options", [{}, {"crossover": "sbx", "mutation": "polynomial"}], ids=["blx-gauss", "sbx-poly"]
)
def test_ga_solves_the_sphere_in_generation_batches(options):
    problem = echo_problem(1500)
    info = solve_one(GeneticAlgorithm(population=30, elites=2, **options), problem)[1]
    assert problem.renders == 1500 and problem.best_loss < 1e-4
    assert problem.synth.batches[0] == 30 and set(problem.synth.batches[1:-1]) == {28}
    assert info["generations"] >= 40


def test_ga_elites_survive_and_children_stay_in_the_cube():
    ga = GeneticAlgorithm(population=8, elites=2, crossover="blx", blx_alpha=2.0, mutation_sigma=1.0)
    problem = echo_problem(100, n_choices=3)
    gen = torch.Generator().manual_seed(0)
    pop = torch.rand(8, problem.dim, generator=gen)
    children = ga.breed(pop, torch.arange(8.0), 500, problem, gen)
    assert children.shape == (500, problem.dim)
    assert children.min() >= 0 and children.max() <= 1
    # categorical genes are inherited whole or redrawn, never blended between two parents' cells
    assert children[:, -1].unique().numel() > 3


def test_ga_tournament_prefers_lower_losses():
    ga = GeneticAlgorithm(tournament=4)
    winners = ga._tournament(torch.arange(10.0), 2000, torch.Generator().manual_seed(0))
    assert winners.float().mean() < 2.5  # uniform picks would average 4.5


def test_polynomial_mutation_matches_debs_formula():
    ga = GeneticAlgorithm(mutation="polynomial", mutation_rate=1.0, mutation_eta=20.0)
    gen = torch.Generator().manual_seed(3)
    x = torch.full((20000, 1), 0.5)
    moved = ga._mutate(x, [], gen)
    # with x = 0.5 far from the bounds, delta = (2u)^(1/21) - 1 for u < 1/2: mean |delta| = 1/22
    assert abs(float((moved - 0.5).abs().mean()) - 1 / 22) < 2e-3


# --- ng ------------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["TwoPointsDE", "PSO", "OnePlusOne"])
def test_ng_optimizers_run_batched_and_improve(optimizer):
    problem = echo_problem(400, optimum=[0.1, 0.8, 0.2, 0.9])
    info = solve_one(Nevergrad(optimizer=optimizer, batch_size=20), problem)[1]
    assert problem.renders == 400 and info["num_workers"] == 20
    assert set(problem.synth.batches) == {20}
    assert problem.best_loss < problem.curve[0].best_loss * 0.8


def test_ng_searches_categorical_parameters_as_choices():
    space = SpecSpace(EchoSynth(dim_continuous=2, n_choices=4).spec)
    param = space.parametrization()
    assert type(param["choice_2"]).__name__ == "Choice"
    x = space.to_unit({"continuous": [0.1, 0.9], "choice_2": 3})
    assert torch.allclose(x, torch.tensor([0.1, 0.9, 0.875]))
    problem = echo_problem(300, n_choices=4, optimum=[0.3, 0.3, 0.3, 0.3, 0.875])
    solve_one(Nevergrad(optimizer="DiscreteLenglerOnePlusOne", batch_size=10), problem)
    assert problem.best_x[-1] == pytest.approx(0.875)  # the right cell, at its centre


def test_ng_sequential_optimizer_falls_back_to_batches_of_one():
    problem = echo_problem(30)
    info = solve_one(Nevergrad(optimizer="Powell", batch_size=8), problem)[1]
    assert info["num_workers"] == 1 and problem.renders == 30


def test_ng_is_reproducible_and_rejects_unknown_names():
    a, b = echo_problem(100, seed=2), echo_problem(100, seed=2)
    solve_one(Nevergrad(optimizer="TwoPointsDE", batch_size=10), a)
    solve_one(Nevergrad(optimizer="TwoPointsDE", batch_size=10), b)
    assert torch.equal(a.best_x, b.best_x)
    with pytest.raises(UserError, match="TwoPointsDE"):
        Nevergrad(optimizer="TwoPointDE")


# --- hybrid --------------------------------------------------------------------------------


@pytest.fixture
def sign_descent(monkeypatch):
    """Register the stand-in gradient solver for the duration of one test."""
    from solvers.base import solver_registry

    solver_registry._load()
    monkeypatch.setitem(solver_registry._entries, "sign_descent", SignDescent)
    return SignDescent


def test_hybrid_splits_the_budget_and_polishes_the_best_points(sign_descent):
    problem = echo_problem(500)
    hybrid = Hybrid(
        split=0.6, top_k=3, explore={"name": "ga", "population": 20}, polish={"name": "sign_descent"}
    )
    info = solve_one(hybrid, problem)[1]
    assert info["explore_renders"] == 300 and info["polish_renders"] == 200 and problem.renders == 500
    assert problem.backwards == 200  # every polish render is one forward + backward
    starts = hybrid._polisher.starts[0]
    assert starts.shape == (3, problem.dim) and starts.unique(dim=0).shape[0] == 3
    # the polish starts from stage 1's best point, so the run ends at least as good as stage 1
    stage1 = next(p.best_loss for p in problem.curve if p.renders == 300)
    assert problem.best_loss <= stage1


def test_best_points_keeps_the_k_best_distinct_rows():
    problem = echo_problem(100)
    view = _BestPoints(problem, 2)
    far, near = torch.full((1, 4), 0.9), torch.full((1, 4), 0.31)
    view.evaluate(torch.cat([far, near, near, torch.full((1, 4), 0.5)]))
    assert torch.allclose(view.points(), torch.cat([near, torch.full((1, 4), 0.5)]))
    assert view.dim == problem.dim and view.renders == 4  # everything else is the problem's


def test_hybrid_refuses_a_synth_without_gradients(sign_descent):
    problem = echo_problem(50, differentiable_=False)
    hybrid = Hybrid(polish={"name": "sign_descent"})
    with pytest.raises(UserError, match="no gradients"):
        hybrid.fit(Task(problem.synth, problem.loss, SR, problem.duration))  # before any target runs
    with pytest.raises(UserError, match="no gradients"):
        hybrid.solve(problem)
    assert problem.renders == 0


def test_hybrid_checks_its_stages():
    with pytest.raises(UserError, match="x0"):
        Hybrid(polish={"name": "random"})
    with pytest.raises(UserError, match="split"):
        Hybrid(split=1.0)


def test_cma_steps_less_far_from_a_start_read_from_the_target():
    """sigma0 null: 0.3 from anywhere, 0.1 from x0=analysis (a wide first step would forget it)."""
    assert CMAES().step == 0.3 and CMAES(x0="analysis").step == 0.1
    assert CMAES(x0="analysis", sigma0=0.25).step == 0.25
