"""A real-coded genetic algorithm in the tradition of FM sound matching (Horner et al. 1993).

Genes are the unit-cube coordinates. Each generation keeps the ``elites`` best
individuals unchanged and breeds the rest of the population:

- parents by tournament selection (the best of ``tournament`` uniform picks);
- crossover with probability ``crossover_rate``: BLX-alpha (Eshelman & Schaffer
  1993: each child gene uniform in the parents' interval widened by ``alpha`` times
  its length on both sides) or SBX (Deb & Agrawal 1995, distribution index
  ``sbx_eta``); otherwise the child copies its first parent;
- mutation of each gene with probability ``mutation_rate`` (None: 1/D): Gaussian
  (standard deviation ``mutation_sigma``) or polynomial (Deb, index ``mutation_eta``);
- categorical genes (a synth's choice parameters) are inherited whole from either
  parent and mutate by a fresh uniform draw, since blending two choices means nothing;
- children are clipped to the cube.

All offspring of a generation are rendered in one batch; elites keep their loss
(the problem is deterministic), so they are not rendered twice. Every random draw
comes from ``problem.generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from solvers.base import BudgetExhausted, Problem, Result, Solver, solver_registry
from solvers.starts import start_points
from soundmatch.errors import UserError

CROSSOVERS = ("blx", "sbx")
MUTATIONS = ("gaussian", "polynomial")
INITS = ("uniform", "sample", "analysis")


@solver_registry.register("ga")
@dataclass
class GeneticAlgorithm(Solver):
    """Real-coded GA: tournament selection, BLX-alpha or SBX crossover, Gaussian or polynomial mutation.

    Args:
        population: individuals per generation (the first generation is one batch
            of this size; later ones render ``population - elites`` children).
        elites: best individuals copied unchanged into the next generation.
        tournament: contestants per tournament (selection pressure).
        crossover: "blx" or "sbx".
        crossover_rate: probability that a child is bred by crossover.
        blx_alpha: BLX widening factor (0.5 is the classic choice).
        sbx_eta: SBX distribution index (larger: children nearer their parents).
        mutation: "gaussian" or "polynomial".
        mutation_rate: per-gene mutation probability; None -> 1 / D.
        mutation_sigma: Gaussian mutation's standard deviation, unit-cube units.
        mutation_eta: polynomial mutation's distribution index.
        init: first population: "uniform" in the cube, "sample" (``synth.sample``) or
            "analysis" (fm_match's analytic starts read from the target, :mod:`solvers.starts`).
    """

    population: int = 64
    elites: int = 2
    tournament: int = 3
    crossover: str = "blx"
    crossover_rate: float = 0.9
    blx_alpha: float = 0.5
    sbx_eta: float = 15.0
    mutation: str = "gaussian"
    mutation_rate: float | None = None
    mutation_sigma: float = 0.1
    mutation_eta: float = 20.0
    init: str = "uniform"

    name = "ga"

    def __post_init__(self) -> None:
        for key, value, allowed in (
            ("crossover", self.crossover, CROSSOVERS),
            ("mutation", self.mutation, MUTATIONS),
            ("init", self.init, INITS),
        ):
            if value not in allowed:
                raise UserError(f"solver.{key} must be one of {', '.join(allowed)}, got '{value}'")
        if self.population < 2:
            raise UserError(f"solver.population must be >= 2, got {self.population}")
        if not 0 <= self.elites < self.population:
            raise UserError(f"solver.elites must be in [0, population), got {self.elites}")
        if self.tournament < 1:
            raise UserError(f"solver.tournament must be >= 1, got {self.tournament}")
        for key in ("crossover_rate", "mutation_rate"):
            rate = getattr(self, key)
            if rate is not None and not 0.0 <= rate <= 1.0:
                raise UserError(f"solver.{key} must be in [0, 1], got {rate}")

    def solve(self, problem: Problem) -> Result:
        gen = problem.generator
        if self.init == "sample":
            pop = problem.synth.sample(self.population, gen).float().clamp(0, 1)
        elif self.init == "analysis":
            pop = start_points(problem, "analysis", self.population)
        else:
            pop = torch.rand(self.population, problem.dim, generator=gen)
        generations = 0
        try:
            fitness = problem.evaluate(pop).double()
            while not problem.exhausted:
                order = torch.argsort(fitness)
                elite_x, elite_f = pop[order[: self.elites]], fitness[order[: self.elites]]
                children = self.breed(pop, fitness, self.population - self.elites, problem, gen)
                child_f = problem.evaluate(children).double()
                pop = torch.cat([elite_x, children])
                fitness = torch.cat([elite_f, child_f])
                generations += 1
        except BudgetExhausted:
            pass
        return Result(problem.best_x, info={"generations": generations})

    def breed(self, pop: Tensor, fitness: Tensor, n: int, problem: Problem, gen: torch.Generator) -> Tensor:
        """``n`` children ``[n, D]`` of population ``pop[P, D]`` with losses ``fitness[P]``."""
        fitness = torch.nan_to_num(fitness, nan=float("inf"))
        a, b = pop[self._tournament(fitness, n, gen)], pop[self._tournament(fitness, n, gen)]
        crossed = self._cross(a, b, gen)
        use_cross = torch.rand(n, 1, generator=gen) < self.crossover_rate
        children = torch.where(use_cross, crossed, a)
        cat = problem.spec.categorical_indices
        if cat:
            pick = torch.rand(n, len(cat), generator=gen) < 0.5
            children[:, cat] = torch.where(use_cross & pick, b[:, cat], a[:, cat])
        children = self._mutate(children, cat, gen)
        return children.clamp(0.0, 1.0)

    def _tournament(self, fitness: Tensor, n: int, gen: torch.Generator) -> Tensor:
        """Indices ``[n]`` of tournament winners (lowest loss among ``tournament`` uniform picks)."""
        picks = torch.randint(0, fitness.shape[0], (n, self.tournament), generator=gen)
        return picks.gather(1, fitness[picks].argmin(dim=1, keepdim=True)).squeeze(1)

    def _cross(self, a: Tensor, b: Tensor, gen: torch.Generator) -> Tensor:
        u = torch.rand(a.shape, generator=gen)
        if self.crossover == "blx":
            low, high = torch.minimum(a, b), torch.maximum(a, b)
            span = high - low
            return low - self.blx_alpha * span + u * (1 + 2 * self.blx_alpha) * span
        # SBX: spread factor beta from the polynomial distribution of index eta; one child per pair
        e = 1.0 / (self.sbx_eta + 1.0)
        beta = torch.where(u <= 0.5, (2 * u) ** e, (1 / (2 * (1 - u)).clamp(min=1e-12)) ** e)
        sign = torch.where(torch.rand(a.shape, generator=gen) < 0.5, 1.0, -1.0)
        return 0.5 * ((a + b) + sign * beta * (a - b))

    def _mutate(self, x: Tensor, categorical: list[int], gen: torch.Generator) -> Tensor:
        rate = self.mutation_rate if self.mutation_rate is not None else 1.0 / x.shape[1]
        hit = torch.rand(x.shape, generator=gen) < rate
        if self.mutation == "gaussian":
            moved = x + self.mutation_sigma * torch.randn(x.shape, generator=gen)
        else:
            # Deb's polynomial mutation in the unit interval (bounds 0 and 1)
            u = torch.rand(x.shape, generator=gen)
            e = 1.0 / (self.mutation_eta + 1.0)
            power = self.mutation_eta + 1.0
            left = (2 * u + (1 - 2 * u) * (1 - x) ** power) ** e - 1
            right = 1 - (2 * (1 - u) + 2 * (u - 0.5) * x**power) ** e
            moved = x + torch.where(u < 0.5, left, right)
        if categorical:
            moved[:, categorical] = torch.rand(x.shape[0], len(categorical), generator=gen)
        return torch.where(hit, moved, x)
