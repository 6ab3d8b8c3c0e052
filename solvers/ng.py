"""Any nevergrad optimizer by name, with batched asks, on the synth's own parameter spec.

The search space mirrors the synth's spec: continuous parameters form one
bounded array in ``[0, 1]`` (nevergrad then scales its steps to the range), and
every categorical parameter (e.g. the DX7 algorithm, where the synth's spec makes
it a choice) is a ``nevergrad.p.Choice`` over its options, so it is searched as
a category rather than as a point on a line. Choice ``i`` of ``n`` is rendered
at the centre of its unit cell, ``(i + 0.5) / n``.

Each step asks ``batch_size`` candidates (the optimizer is told it has that many
workers), renders them in one ``Problem.evaluate`` and tells all the losses back.
Optimizers that declare they cannot run in parallel (SQP, Powell, BO ...) run with batches of one.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from solvers.base import BudgetExhausted, Problem, Result, Solver, solver_registry
from solvers.starts import check_start, start_points
from soundmatch.errors import UserError
from synths.base import ParamSpec

# optimizers offered in the unknown-name message besides the closest matches
WELL_KNOWN = ("NGOpt", "TwoPointsDE", "PSO", "OnePlusOne", "DiscreteLenglerOnePlusOne", "CMA", "DE")


def optimizer_names() -> list[str]:
    """Every optimizer name nevergrad registers."""
    import nevergrad as ng

    return sorted(ng.optimizers.registry)


@solver_registry.register("ng")
@dataclass
class Nevergrad(Solver):
    """A nevergrad optimizer, e.g. ``solver=ng solver.optimizer=TwoPointsDE``.

    Args:
        optimizer: a name from ``nevergrad.optimizers.registry`` (NGOpt, TwoPointsDE,
            PSO, OnePlusOne, DiscreteLenglerOnePlusOne, CMA ...).
        batch_size: candidates asked and rendered together (nevergrad's num_workers).
        x0: where the continuous parameters start: "center" (0.5) or "analysis" (fm_match's
            analytic start read from the target, :mod:`solvers.starts`; no render spent).
    """

    optimizer: str = "NGOpt"
    batch_size: int = 16
    x0: str = "center"

    name = "ng"

    def __post_init__(self) -> None:
        names = optimizer_names()
        if self.optimizer not in names:
            close = difflib.get_close_matches(self.optimizer, names, n=4, cutoff=0.5)
            offer = ", ".join(dict.fromkeys([*close, *WELL_KNOWN]))
            raise UserError(
                f"unknown nevergrad optimizer '{self.optimizer}' (solver.optimizer); "
                f"try one of {offer} ({len(names)} in nevergrad.optimizers.registry)"
            )
        if self.batch_size < 1:
            raise UserError(f"solver.batch_size must be >= 1, got {self.batch_size}")
        check_start("x0", self.x0, ("center", "analysis"))

    def solve(self, problem: Problem) -> Result:
        space = SpecSpace(problem.spec)
        start = start_points(problem, "analysis", 1)[0] if self.x0 == "analysis" else None
        param = space.parametrization(start)
        seed = int(torch.randint(0, 2**31, (1,), generator=problem.generator))
        param.random_state = np.random.RandomState(seed)
        opt, workers = self._make(param, problem.remaining)
        told = 0
        with warnings.catch_warnings():
            # cma (inside NGOpt and nevergrad's CMA) reports every far out-of-bounds sample it repairs
            warnings.filterwarnings("ignore", message="elements of z2", category=UserWarning)
            try:
                while not problem.exhausted:
                    n = workers if problem.remaining is None else min(workers, problem.remaining)
                    candidates = [opt.ask() for _ in range(n)]
                    losses = problem.evaluate(torch.stack([space.to_unit(c.value) for c in candidates]))
                    for cand, value in zip(candidates, losses.double().tolist(), strict=True):
                        opt.tell(cand, value if np.isfinite(value) else 1e30)
                    told += n
            except BudgetExhausted:
                pass
        info = {"optimizer": self.optimizer, "num_workers": workers, "told": told}
        return Result(problem.best_x, info=info)

    def _make(self, param: Any, budget: int | None) -> tuple[Any, int]:
        """The optimizer over ``param`` and its worker count (1 when it cannot run in parallel)."""
        import nevergrad as ng

        factory = ng.optimizers.registry[self.optimizer]
        workers = 1 if getattr(factory, "no_parallelization", False) else self.batch_size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nevergrad warns about settings it will cope with
            return factory(param, budget=budget, num_workers=workers), workers


class SpecSpace:
    """A synth's unit cube as a nevergrad parametrization, and the way back to unit vectors.

    Args:
        spec: the synth's parameters; categorical ones become ``Choice``s.
    """

    def __init__(self, spec: ParamSpec):
        self.dim = spec.dim
        self.continuous = spec.continuous_indices
        self.categorical = {i: len(spec.params[i].choices or ()) for i in spec.categorical_indices}

    def parametrization(self, start: torch.Tensor | None = None) -> Any:
        """The nevergrad space; its continuous part starts at ``start[D]``'s values (default 0.5)."""
        import nevergrad as ng

        parts: dict[str, Any] = {}
        if self.continuous:
            init = np.full(len(self.continuous), 0.5)
            if start is not None:  # inside the bounds, where nevergrad's init must lie
                init = start[self.continuous].double().clamp(1e-6, 1 - 1e-6).numpy()
            parts["continuous"] = ng.p.Array(init=init, lower=0.0, upper=1.0)
        for i, n in self.categorical.items():
            parts[f"choice_{i}"] = ng.p.Choice(list(range(n)))
        return ng.p.Dict(**parts)

    def to_unit(self, value: dict[str, Any]) -> torch.Tensor:
        """A candidate's value -> unit vector ``[D]`` (choices at the centres of their cells)."""
        x = torch.empty(self.dim)
        if self.continuous:
            x[self.continuous] = torch.as_tensor(np.asarray(value["continuous"]), dtype=torch.float32)
        for i, n in self.categorical.items():
            x[i] = (int(value[f"choice_{i}"]) + 0.5) / n
        return x.clamp(0.0, 1.0)
