"""Random search: uniform samples of the unit cube, evaluated in batches.

The baseline of the Bayesmark-style normalised score (1 = random search).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from solvers.base import Problem, Result, Solver, solver_registry


@solver_registry.register("random")
@dataclass
class RandomSearch(Solver):
    """Uniform random sampling.

    Args:
        batch_size: candidates rendered per batch.
    """

    batch_size: int = 64

    name = "random"

    def solve(self, problem: Problem) -> Result:
        while not problem.exhausted:
            x = torch.rand(self.batch_size, problem.dim, generator=problem.generator)
            problem.evaluate(x)
        return Result(problem.best_x)
