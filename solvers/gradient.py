"""Gradient solvers: Adam, SGD (with momentum) and L-BFGS from the unit cube, multi-start.

One loop drives every variant. K starts are optimised side by side: each step
renders the K active candidates in one batch through ``problem.value_and_grad``
(one render per candidate), and each start has its own torch optimizer, so
starts never share moments or curvature. Starts stop early when their loss has
not improved by a relative ``tol`` for ``patience`` steps; when all have
stopped and budget is left, fresh random starts begin (restarts).

Staying in the cube: ``reparam: sigmoid`` optimises z with x = sigmoid(z);
``clamp`` optimises x itself and projects it back into [0, 1] after each step.
Categorical parameters keep their start value (their gradient is zero).

``surrogate: true`` (synths with sinusoidal frequency parameters, declared by a
``surrogate_params`` attribute and a ``render_surrogate`` method, e.g. fm2):
Hayes et al. (2023)'s complex-exponential surrogate. Each such frequency is
represented by a complex number z = a + ib; the sinusoid sin(w n) becomes the
damped ``|z|^n sin(w n)`` with w = arg z. The loss is smoother in (a, b) than in
w, so descent can find the frequency; |z| is kept <= 1 and the frequency read
off arg z. Surrogate renders count against the budget but are not candidates
(their loss is not the true one): every start's current point is evaluated for
real (undamped) every ``surrogate_check`` steps and at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from solvers.base import BudgetExhausted, Problem, Result, Solver, solver_registry
from solvers.starts import check_start, start_points
from soundmatch.errors import UserError

SCHEDULES = ("constant", "cosine", "exponential")
REPARAMS = ("sigmoid", "clamp")


def _logit(x: Tensor) -> Tensor:
    x = x.clamp(1e-4, 1.0 - 1e-4)
    return torch.log(x) - torch.log1p(-x)


@dataclass
class GradientSolver(Solver):
    """Multi-start gradient descent in the unit cube (see the module docstring).

    Args:
        lr: learning rate (in z units for sigmoid, unit-cube units for clamp).
        starts: parallel starts K (ignored when x0 is given: K = its rows).
        steps: steps per start and round; None -> the budget left / K.
        schedule: ``constant``, ``cosine`` (to ``lr * lr_min_ratio`` over the
            round's steps) or ``exponential`` (the same end point, geometric).
        lr_min_ratio: final / initial learning rate for the decaying schedules.
        patience: steps without relative improvement > tol before a start stops.
        tol: relative improvement that counts.
        reparam: ``sigmoid`` or ``clamp``.
        restarts: start fresh random points when every start has stopped.
        surrogate: use the synth's complex-exponential surrogate (see above).
        surrogate_check: steps between true evaluations of the surrogate's points.
        x0: where the first round starts when no ``x0`` is passed to ``solve``: "random"
            (uniform) or "analysis" (fm_match's analytic starts read from the target,
            :mod:`solvers.starts`; no render spent); restarts are random.
        momentum: SGD only.
        history: L-BFGS only, the history size.
    """

    lr: float = 0.1
    starts: int = 4
    steps: int | None = None
    schedule: str = "cosine"
    lr_min_ratio: float = 0.05
    patience: int = 50
    tol: float = 1e-4
    reparam: str = "sigmoid"
    restarts: bool = True
    surrogate: bool = False
    surrogate_check: int = 25
    x0: str = "random"

    optimizer: ClassVar[str] = "adam"
    needs_gradients: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise UserError(f"solver.schedule must be one of {', '.join(SCHEDULES)}, got '{self.schedule}'")
        if self.reparam not in REPARAMS:
            raise UserError(f"solver.reparam must be one of {', '.join(REPARAMS)}, got '{self.reparam}'")
        if self.starts < 1:
            raise UserError(f"solver.starts must be >= 1, got {self.starts}")
        check_start("x0", self.x0, ("random", "analysis"))

    # --- the pieces that differ between variants ---------------------------------------
    def make_optimizer(self, param: Tensor) -> torch.optim.Optimizer:
        return torch.optim.Adam([param], lr=self.lr)

    # --- the shared loop ------------------------------------------------------------------
    def _lr_factor(self, step: int, total: int) -> float:
        if self.schedule == "constant" or total <= 1:
            return 1.0
        frac = min(1.0, step / (total - 1))
        if self.schedule == "cosine":
            return self.lr_min_ratio + (1 - self.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * frac))
        return self.lr_min_ratio**frac

    def _to_x(self, z: Tensor) -> Tensor:
        return torch.sigmoid(z) if self.reparam == "sigmoid" else z.clamp(0.0, 1.0)

    def _from_x(self, x: Tensor) -> Tensor:
        return _logit(x) if self.reparam == "sigmoid" else x.clone()

    def solve(self, problem: Problem, x0: Tensor | None = None) -> Result:
        if self.surrogate:
            self._check_surrogate(problem)
        info: dict[str, Any] = {"rounds": 0, "early_stops": 0}
        starts = None if x0 is None else x0.detach().reshape(-1, problem.dim).float().cpu()
        if starts is None and self.x0 == "analysis":
            starts = start_points(problem, "analysis", self.starts)
        try:
            while not problem.exhausted:
                if starts is None:
                    starts = torch.rand(self.starts, problem.dim, generator=problem.generator)
                info["rounds"] += 1
                info["early_stops"] += self._round(problem, starts)
                starts = None
                if not self.restarts:
                    break
        except BudgetExhausted:
            pass
        return Result(problem.best_x, info)

    def _round(self, problem: Problem, starts: Tensor) -> int:
        """Optimise ``starts[K, D]`` side by side; returns how many stopped early."""
        k = starts.shape[0]
        remaining = problem.remaining
        total = self.steps or (max(1, remaining // k) if remaining is not None else 1000)
        state = self._surrogate_init(problem, starts, total) if self.surrogate else None
        params = [self._from_x(starts[i : i + 1]).requires_grad_(True) for i in range(k)]
        optims = [self.make_optimizer(p) for p in params]
        best = torch.full((k,), math.inf)
        since = torch.zeros(k, dtype=torch.long)
        active = torch.ones(k, dtype=torch.bool)
        for step in range(total):
            idx = active.nonzero().flatten().tolist()
            if not idx or problem.exhausted:
                break
            z = torch.cat([params[i].detach() for i in idx])
            if state is None:
                losses, grad_x = problem.value_and_grad(self._to_x(z))
            else:
                losses, grad_x = self._surrogate_step(problem, state, idx, z, step)
            # chain rule through the reparametrisation: dL/dz = dL/dx * dx/dz
            if self.reparam == "sigmoid":
                s = torch.sigmoid(z)
                grad_z = grad_x * s * (1 - s)
            else:
                grad_z = grad_x
            factor = self._lr_factor(step, total)
            for j, i in enumerate(idx):
                loss_i, grad_i = float(losses[j]), grad_z[j : j + 1]
                for group in optims[i].param_groups:
                    group["lr"] = self.lr * factor

                def closure(loss_i=loss_i, grad_i=grad_i, p=params[i]):
                    p.grad = grad_i.clone()
                    return torch.tensor(loss_i)

                optims[i].step(closure)
                if self.reparam == "clamp":
                    with torch.no_grad():
                        params[i].clamp_(0.0, 1.0)
                if loss_i < best[i] - self.tol * abs(float(best[i])) or not math.isfinite(float(best[i])):
                    best[i], since[i] = loss_i, 0
                else:
                    since[i] += 1
                if since[i] >= self.patience:
                    active[i] = False
        if state is not None:
            # the surrogate's final points, undamped, are the round's candidates
            self._surrogate_check(problem, state, list(range(k)), torch.cat([p.detach() for p in params]))
        return int((~active).sum())

    # --- Hayes et al.'s surrogate ---------------------------------------------------------
    def _check_surrogate(self, problem: Problem) -> None:
        synth = problem.synth
        if not getattr(synth, "surrogate_params", None) or not hasattr(synth, "render_surrogate"):
            raise UserError(
                f"solver.surrogate=true needs a synth with sinusoidal frequency parameters "
                f"(e.g. fm2); synth '{synth.name}' has none"
            )

    def _surrogate_init(self, problem: Problem, starts: Tensor, total: int) -> dict[str, Any]:
        """Per start, a leaf ``[2, S]`` holding (Re z, Im z) = (cos w, sin w) of its surrogate frequencies."""
        synth = problem.synth
        omega = synth.surrogate_omega(starts, sample_rate=problem.sample_rate, note=problem.target.note)
        leaves = [torch.stack([torch.cos(w), torch.sin(w)]).requires_grad_(True) for w in omega]
        return {
            "cols": torch.tensor([problem.spec.index(name) for name in synth.surrogate_params]),
            "leaves": leaves,
            "optims": [self.make_optimizer(leaf) for leaf in leaves],
            "total": total,
        }

    def _surrogate_point(self, problem: Problem, state: dict[str, Any], idx: list[int], z: Tensor):
        """Unit parameters (frequencies from arg z), damping |z| <= 1, and the leaves used."""
        leaves = torch.stack([state["leaves"][i].detach() for i in idx]).requires_grad_(True)  # [n, 2, S]
        radius = torch.sqrt(leaves[:, 0].square() + leaves[:, 1].square()).clamp(min=1e-6, max=1.0)
        omega = torch.atan2(leaves[:, 1], leaves[:, 0]).abs()
        unit = problem.synth.surrogate_unit(omega, sample_rate=problem.sample_rate, note=problem.target.note)
        x = self._to_x(z).detach().index_copy(1, state["cols"], unit)
        return x, radius, leaves

    def _surrogate_step(self, problem: Problem, state: dict[str, Any], idx: list[int], z: Tensor, step: int):
        if step and step % self.surrogate_check == 0:
            self._surrogate_check(problem, state, idx, z)
        x, damping, leaves = self._surrogate_point(problem, state, idx, z)
        losses, grad_x, grad_damp = problem.surrogate_value_and_grad(x.detach(), damping.detach())
        # back through (Re z, Im z) -> (unit frequency, damping); the frequency columns
        # of x belong to the surrogate, the other columns to z as usual
        cols = state["cols"]
        (g_leaves,) = torch.autograd.grad([x[:, cols], damping], [leaves], [grad_x[:, cols], grad_damp])
        factor = self._lr_factor(step, state["total"])
        for j, i in enumerate(idx):
            opt = state["optims"][i]
            for group in opt.param_groups:
                group["lr"] = self.lr * factor

            def closure(leaf=state["leaves"][i], g=g_leaves[j], loss=float(losses[j])):
                leaf.grad = g.clone()
                return torch.tensor(loss)

            opt.step(closure)
        grad_x = grad_x.clone()
        grad_x[:, cols] = 0.0
        return losses, grad_x

    def _surrogate_check(self, problem: Problem, state: dict[str, Any], idx: list[int], z: Tensor) -> None:
        """Evaluate the current points undamped: these are the real candidates."""
        x, _, _ = self._surrogate_point(problem, state, idx, z)
        problem.evaluate(x.detach())


@solver_registry.register("adam")
@dataclass
class Adam(GradientSolver):
    """Adam (Kingma & Ba 2015), multi-start; see :class:`GradientSolver`."""

    name = "adam"

    def make_optimizer(self, param: Tensor) -> torch.optim.Optimizer:
        return torch.optim.Adam([param], lr=self.lr)


@solver_registry.register("sgd")
@dataclass
class SGD(GradientSolver):
    """Stochastic-gradient-descent update with heavy-ball momentum, multi-start."""

    lr: float = 0.5
    momentum: float = 0.9

    name = "sgd"

    def make_optimizer(self, param: Tensor) -> torch.optim.Optimizer:
        return torch.optim.SGD([param], lr=self.lr, momentum=self.momentum)


@solver_registry.register("lbfgs")
@dataclass
class LBFGS(GradientSolver):
    """L-BFGS, one quasi-Newton step (one render) per iteration, without line search.

    Each start keeps its own curvature history; the step length is the
    (scheduled) learning rate, so the budget is spent one render per step like
    the other variants.
    """

    lr: float = 0.5
    history: int = 10

    name = "lbfgs"

    def make_optimizer(self, param: Tensor) -> torch.optim.Optimizer:
        return torch.optim.LBFGS([param], lr=self.lr, max_iter=1, history_size=self.history)
