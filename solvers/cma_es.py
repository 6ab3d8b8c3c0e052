"""CMA-ES (Hansen's ``cma`` package) in the unit cube, with restarts while budget remains."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from solvers.base import Problem, Result, Solver, solver_registry


@solver_registry.register("cma")
@dataclass
class CMAES(Solver):
    """CMA-ES with ask/tell; each population is rendered in one batch.

    Args:
        sigma0: initial step size, in unit-cube units.
        popsize: population size; None -> cma's default 4 + 3 ln D.
        restarts: "ipop" (each restart doubles the population, Auger & Hansen
            2005) or "none" (restart with the same population).
        max_restarts: cap on restarts (the budget usually ends the run first).
        x0: "random" (a uniform point, new at each restart) or "center".
    """

    sigma0: float = 0.3
    popsize: int | None = None
    restarts: str = "ipop"
    max_restarts: int = 100
    x0: str = "random"

    name = "cma"

    def solve(self, problem: Problem) -> Result:
        import cma

        popsize = self.popsize or int(4 + 3 * np.log(problem.dim))
        for restart in range(self.max_restarts + 1):
            if problem.exhausted:
                break
            if self.x0 == "center":
                x0 = np.full(problem.dim, 0.5)
            else:
                x0 = torch.rand(problem.dim, generator=problem.generator).double().numpy()
            opts = {
                "bounds": [0.0, 1.0],
                "popsize": popsize,
                "seed": (problem.seed + restart) % (2**32 - 2) + 1,
                "verbose": -9,
            }
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                es = cma.CMAEvolutionStrategy(x0, self.sigma0, opts)
                while not es.stop() and not problem.exhausted:
                    candidates = es.ask()
                    losses = problem.evaluate(torch.tensor(np.array(candidates)))
                    es.tell(candidates, losses.double().numpy().tolist())
            if self.restarts == "ipop":
                popsize *= 2
        return Result(problem.best_x)
