"""Black-box exploration, then gradient polishing, in one budget (e.g. cma then adam).

Stage 1 runs a black-box solver (``explore``) under a cap of ``split`` times the
render budget (:meth:`Problem.limit`) and keeps the ``top_k`` best distinct points
it rendered. Stage 2 hands those points to a gradient solver (``polish``) as
starting points, ``solve(problem, x0=Tensor[K, D])``, for the rest of the budget.
Both stages are built from the solver registry and spend the same problem's
renders, so the curve and best point cover the whole run.

A synth without gradients is refused up front with a UserError rather than
silently turning this solver into its first stage: a leaderboard row named
``hybrid`` should always mean exploration plus polishing.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from solvers.base import BudgetExhausted, Problem, Result, Solver, Task, solver_registry
from soundmatch.errors import UserError
from synths.base import Synth


@solver_registry.register("hybrid")
@dataclass
class Hybrid(Solver):
    """A black-box stage followed by gradient polishing from its best points.

    Args:
        split: share of the render budget for the black-box stage, in (0, 1).
        top_k: how many of stage 1's best distinct points start the polish.
        explore: the stage-1 solver's config, ``{"name": "cma", **options}``.
        polish: the stage-2 solver's config, ``{"name": "adam", **options}``; it must
            accept ``solve(problem, x0=...)``.
        x0: "analysis" starts the black-box stage from fm_match's analytic start read
            from the target (its ``x0``, or ``init`` for ga, set to "analysis" unless its
            config sets it); null leaves the stage's own start.
    """

    split: float = 0.7
    top_k: int = 4
    explore: dict[str, Any] = field(default_factory=lambda: {"name": "cma"})
    polish: dict[str, Any] = field(default_factory=lambda: {"name": "adam"})
    x0: str | None = None

    name = "hybrid"

    def __post_init__(self) -> None:
        if not 0.0 < self.split < 1.0:
            raise UserError(f"solver.split must be in (0, 1), got {self.split}")
        if self.top_k < 1:
            raise UserError(f"solver.top_k must be >= 1, got {self.top_k}")
        if self.x0 not in (None, "analysis"):
            raise UserError(f"solver.x0 must be analysis or null for hybrid, got '{self.x0}'")
        self._explorer = _stage(_seeded(self.explore) if self.x0 == "analysis" else self.explore, "explore")
        self._polisher = _stage(self.polish, "polish")
        if "x0" not in inspect.signature(self._polisher.solve).parameters:
            raise UserError(
                f"solver.polish.name='{self.polish['name']}' takes no starting points (x0); "
                "use a gradient solver such as adam, sgd or lbfgs"
            )

    def fit(self, task: Task) -> dict[str, float]:
        """Refuse a synth without gradients before any target runs; let both stages learn what they learn."""
        self.check_synth(task.synth)
        return {**self._explorer.fit(task), **self._polisher.fit(task)}

    def check_synth(self, synth: Synth) -> None:
        self._explorer.check_synth(synth)
        if not synth.differentiable:
            raise UserError(
                f"synth '{synth.name}' has no gradients, so hybrid cannot polish; "
                f"use solver={self.explore['name']} (its black-box stage) or a differentiable synth"
            )

    def solve(self, problem: Problem) -> Result:
        self.check_synth(problem.synth)
        if problem.remaining is None:
            raise UserError("hybrid splits a render budget; set budget.renders")
        explore_renders = max(1, int(round(self.split * problem.remaining)))
        best = _BestPoints(problem, self.top_k)
        with problem.limit(explore_renders):
            try:
                self._explorer.solve(best)
            except BudgetExhausted:
                pass
        explored = problem.renders
        starts = best.points()
        if starts is None:
            return Result(problem.best_x, info={"explore_renders": explored})
        try:
            self._polisher.solve(problem, x0=starts)
        except BudgetExhausted:
            pass
        info = {"explore_renders": explored, "polish_renders": problem.renders - explored}
        return Result(problem.best_x, info={**info, "starts": starts.shape[0]})


def _seeded(config: dict[str, Any]) -> dict[str, Any]:
    """The explore stage's config starting from the analysis: its ``x0`` (``init`` for ga)."""
    from dataclasses import fields

    factory = solver_registry.get(str(config.get("name")))
    names = {f.name for f in fields(factory)} if hasattr(factory, "__dataclass_fields__") else set()
    key = "x0" if "x0" in names else "init" if "init" in names else None
    if key is None:
        name = config.get("name")
        raise UserError(f"solver.explore.name='{name}' cannot start from the analysis (solver.x0)")
    return {key: "analysis", **config}


def _stage(config: dict[str, Any], key: str) -> Solver:
    if config.get("name") == "hybrid":
        raise UserError(f"solver.{key}.name cannot be hybrid itself")
    return solver_registry.from_spec(config, f"solver.{key}")


class _BestPoints:
    """A view of a Problem that also keeps the ``k`` best distinct points evaluated through it.

    Everything but :meth:`evaluate` is the wrapped problem's own (budget, cap,
    generator, curve), so the stage-1 solver runs exactly as on the problem.
    """

    def __init__(self, problem: Problem, k: int):
        self._problem = problem
        self._k = k
        self._x: Tensor | None = None
        self._loss: Tensor | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._problem, name)

    def evaluate(self, x: Tensor) -> Tensor:
        losses = self._problem.evaluate(x)  # a cut last batch raises; points() then adds best_x
        self._keep(x.detach().cpu().float().clamp(0.0, 1.0), losses.detach().cpu().double())
        return losses

    def _keep(self, x: Tensor, losses: Tensor) -> None:
        losses = torch.nan_to_num(losses, nan=float("inf"))
        if self._x is not None and self._loss is not None:
            x, losses = torch.cat([self._x, x]), torch.cat([self._loss, losses])
        x, first = _unique_rows(x)
        order = torch.argsort(losses[first])[: self._k]
        self._x, self._loss = x[order], losses[first][order]

    def points(self) -> Tensor | None:
        """The best distinct points ``[<=k, D]``, best first; None if nothing was evaluated."""
        best = self._problem.best_x
        if best is not None:
            loss = torch.tensor([self._problem.best_loss], dtype=torch.float64)
            self._keep(best.reshape(1, -1).float(), loss)
        return None if self._x is None else self._x.clone()


def _unique_rows(x: Tensor) -> tuple[Tensor, Tensor]:
    """Distinct rows of ``x[N, D]`` and the index of each one's first occurrence."""
    rows, inverse = torch.unique(x, dim=0, return_inverse=True)
    first = torch.full((rows.shape[0],), x.shape[0], dtype=torch.long)
    first = first.scatter_reduce(0, inverse, torch.arange(x.shape[0]), reduce="amin")
    return x[first], first
