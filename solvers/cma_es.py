"""CMA-ES (Hansen's ``cma`` package) in the unit cube, with IPOP or BIPOP restarts.

Restart strategies (each restart is a fresh CMA-ES run while budget remains):

- ``ipop`` (Auger & Hansen 2005): every restart doubles the population size.
- ``bipop`` (Hansen 2009): two interlaced regimes with about equal budgets. The
  *large* regime is IPOP (population ``2^i * lambda_default``, step ``sigma0``);
  the *small* regime draws ``u ~ U(0, 1)`` and uses population
  ``floor(lambda_default * (lambda_large / (2 lambda_default)) ** (u**2))`` and step
  ``sigma0 * 10 ** (-2 u)``, where ``lambda_large`` is the latest large population;
  a small run may spend at most half of what the latest large run spent. Before
  each restart the regime that has spent fewer renders so far runs; the first,
  default-population run counts to the large regime.
- ``none``: restart with the same population and step size.

Every generation's population is rendered in one batch (one ``Problem.evaluate``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from solvers.base import BudgetExhausted, Problem, Result, Solver, solver_registry
from solvers.starts import start_points
from soundmatch.errors import UserError

RESTARTS = ("ipop", "bipop", "none")
STARTS = ("random", "center", "sample", "analysis")
SIGMA0 = 0.3  # unit-cube step of a search from anywhere
ANALYSIS_SIGMA0 = 0.1  # from a start read from the target


@dataclass
class _Run:
    """One CMA-ES run of a restart schedule: its population, step size and render cap."""

    popsize: int
    sigma0: float
    regime: str
    max_renders: int | None = None


@solver_registry.register("cma")
@dataclass
class CMAES(Solver):
    """CMA-ES with ask/tell and restarts; each population is rendered in one batch.

    Args:
        sigma0: initial step size, in unit-cube units (the cube's side is 1); None: 0.3, or 0.1 from
            an analysis start (it is near the target already: a wide first step would forget it).
        popsize: the first run's population size; None -> cma's default 4 + floor(3 ln D).
        restarts: "ipop", "bipop" or "none" (see the module docstring).
        max_restarts: cap on restarts (the budget usually ends the run first).
        x0: where each run starts: "random" (a uniform point, new at each run),
            "center" (0.5 everywhere), "sample" (a draw from ``synth.sample``,
            the synth's musically plausible prior) or "analysis" (fm_match's analytic
            start read from the target, :mod:`solvers.starts`; no render spent).
        max_popsize: IPOP doubling stops growing past this size (None: no cap).
        options: further options for ``cma.CMAEvolutionStrategy`` (e.g. ``{"tolfun": 1e-6}``,
            when a run should end, and so restart, sooner); bounds, popsize and seed are set here.
    """

    sigma0: float | None = None
    popsize: int | None = None
    restarts: str = "ipop"
    max_restarts: int = 100
    x0: str = "random"
    max_popsize: int | None = None
    options: dict[str, Any] = field(default_factory=dict)

    name = "cma"

    def __post_init__(self) -> None:
        if self.restarts not in RESTARTS:
            raise UserError(f"solver.restarts must be one of {', '.join(RESTARTS)}, got '{self.restarts}'")
        if self.x0 not in STARTS:
            raise UserError(f"solver.x0 must be one of {', '.join(STARTS)}, got '{self.x0}'")
        if self.sigma0 is not None and not self.sigma0 > 0:
            raise UserError(f"solver.sigma0 must be > 0 (or null), got {self.sigma0}")
        if self.popsize is not None and self.popsize < 2:
            raise UserError(f"solver.popsize must be >= 2 (or null for the default), got {self.popsize}")

    @property
    def step(self) -> float:
        """The initial step size in use (``sigma0``, or its default for the start)."""
        if self.sigma0 is not None:
            return float(self.sigma0)
        return ANALYSIS_SIGMA0 if self.x0 == "analysis" else SIGMA0

    def solve(self, problem: Problem, x0: torch.Tensor | None = None) -> Result:
        """CMA-ES runs until the budget is spent. ``x0[K, D]``: starting points another solver found
        (e.g. ``retrieval``'s presets, best first): the first run starts at ``x0[0]`` with the step
        of an analysis start; restarts start as ``self.x0`` says."""
        default = self.popsize or 4 + int(3 * math.log(problem.dim))
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=problem.generator)))
        spent = {"large": 0, "small": 0}
        large_pop, last_large_spend = default, 0
        runs: list[dict] = []
        for restart in range(self.max_restarts + 1):
            if problem.exhausted:
                break
            given = x0 is not None and restart == 0
            if restart == 0 or self.restarts == "none":
                step = ANALYSIS_SIGMA0 if given and self.sigma0 is None else self.step
                run = _Run(default, step, "large")
            elif self.restarts == "ipop" or spent["large"] <= spent["small"]:
                large_pop = self._grow(large_pop)
                run = _Run(large_pop, self.step, "large")
            else:
                u = rng.uniform()
                pop = int(default * (0.5 * large_pop / default) ** (u**2))
                run = _Run(max(pop, 2), self.step * 10 ** (-2 * u), "small", max(last_large_spend // 2, 1))
            before = problem.renders
            try:
                seed = int(rng.integers(1, 2**31))
                start = x0[0].double().clamp(0, 1).numpy() if given else self._start(problem)  # type: ignore[index]
                stop = self._run_once(problem, run, start, {**self.options, "seed": seed})
            except BudgetExhausted:
                stop = "budget"
            used = problem.renders - before
            spent[run.regime] += used
            if run.regime == "large":
                last_large_spend = used
            runs.append({**vars(run), "renders": used, "stop": stop})
        return Result(problem.best_x, info={"runs": runs})

    def _grow(self, popsize: int) -> int:
        grown = 2 * popsize
        return grown if self.max_popsize is None else min(grown, max(self.max_popsize, popsize))

    def _start(self, problem: Problem) -> np.ndarray:
        if self.x0 == "center":
            return np.full(problem.dim, 0.5)
        if self.x0 == "sample":
            return problem.synth.sample(1, problem.generator)[0].double().clamp(0, 1).numpy()
        if self.x0 == "analysis":
            return start_points(problem, "analysis", 1)[0].double().numpy()
        return torch.rand(problem.dim, generator=problem.generator).double().numpy()

    @staticmethod
    def _run_once(problem: Problem, run: _Run, x0: np.ndarray, options: dict[str, Any]) -> str:
        """One CMA-ES run from ``x0``; returns why it stopped (cma's reason, "cap" or "budget")."""
        import cma

        opts = {"verbose": -9, **options, "bounds": [0.0, 1.0], "popsize": run.popsize}
        start = problem.renders
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cma warns about re-sampling near bounds, harmlessly
            es = cma.CMAEvolutionStrategy(x0, run.sigma0, opts)
            while not es.stop():
                if problem.exhausted:
                    return "budget"
                if run.max_renders is not None and problem.renders - start >= run.max_renders:
                    return "cap"
                candidates = es.ask()
                losses = problem.evaluate(torch.tensor(np.array(candidates)))
                es.tell(candidates, np.nan_to_num(losses.double().numpy(), nan=1e30, posinf=1e30).tolist())
        return ",".join(sorted(es.stop()))
