"""The solver contract: Target, Budget, Problem, Result, Solver, and the registry.

A solver sees only a :class:`Problem`. It spends budget through
:meth:`Problem.evaluate` (black-box, batched) or :meth:`Problem.value_and_grad`
(gradient solvers); the problem counts renders, records the anytime curve and
keeps the best parameters actually evaluated, so every solver is measured the
same way and none can report a point it did not evaluate.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from soundmatch.errors import UserError
from soundmatch.registry import Registry
from synths.base import Note, Synth, render_meter

solver_registry: Registry = Registry("solver", "soundmatch.solvers", package="solvers")


class BudgetExhausted(Exception):
    """Raised by a Problem when a solver asks for more than its budget; the runner catches it."""


@dataclass
class Budget:
    """What a solver may spend on one target.

    Args:
        renders: synth renders (one forward, or one forward + backward, per
            candidate); None for no limit.
        seconds: wall-clock seconds; None for no limit.
    """

    renders: int | None = 2000
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.renders is None and self.seconds is None:
            raise UserError("budget: set budget.renders or budget.seconds (both are null)")
        if self.renders is not None and self.renders < 1:
            raise UserError(f"budget.renders must be >= 1, got {self.renders}")


@dataclass
class Target:
    """A sound to match.

    Args:
        audio: mono float32 ``[T]``.
        sample_rate: Hz.
        name: unique within its suite (used in logs and file names).
        note: pitch and velocity the synth should play, when known.
        params: true parameters ``[D]`` in the unit cube (synthetic targets only).
        meta: anything else worth logging (source file, instrument ...).
    """

    audio: Tensor
    sample_rate: int
    name: str
    note: Note | None = None
    params: Tensor | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.audio.shape[-1] / self.sample_rate


@dataclass
class Task:
    """What is fixed for every target of a run, offered to solvers that learn before solving.

    Args:
        synth: the synth every target is matched with.
        loss: the run's :class:`metrics.base.Loss` (not bound to any target).
        sample_rate: Hz of every render and target.
        duration: seconds of every render and target.
        note: the note synthetic targets are played at (real targets may carry their own).
        device: where renders and losses run.
        cache_dir: a folder where a solver may keep what it trained, keyed by a hash
            of its configuration; None: nothing is cached on disk.
        load_suite: builds the targets of a suite from its config, e.g.
            ``{"name": "gm_notes", "split": "train"}``, at this task's rate, duration
            and note; the harness provides it so solvers can train on real audio
            without importing the harness. None when no suites are offered.
    """

    synth: Synth
    loss: Any
    sample_rate: int
    duration: float
    note: Note | None = None
    device: str | torch.device = "cpu"
    cache_dir: Path | None = None
    load_suite: Callable[[dict[str, Any]], list[Target]] | None = None


@dataclass
class CurvePoint:
    """One point of the anytime curve: best loss after ``renders`` renders and ``seconds`` s."""

    renders: int
    seconds: float
    best_loss: float


class Problem:
    """One target to match with one synth under one loss and budget.

    Args:
        synth: the synth whose parameters are searched.
        target: the sound to match (its length and rate fix the render's).
        loss: a :class:`metrics.base.Loss`; bound to the target once here.
        budget: what may be spent.
        seed: seeds ``generator`` for the solver's random choices.
        device: where renders and losses run.
        on_progress: called as ``on_progress(problem)`` after every evaluation.
    """

    def __init__(
        self,
        synth: Synth,
        target: Target,
        loss: Any,
        budget: Budget,
        seed: int = 0,
        device: str | torch.device = "cpu",
        on_progress: Callable[[Problem], None] | None = None,
    ):
        self.synth = synth
        self.target = target
        self.budget = budget
        self.seed = seed
        self.device = torch.device(device)
        self.generator = torch.Generator().manual_seed(seed)
        self.loss = loss
        self._target_audio = target.audio.to(self.device, torch.float32).reshape(1, -1)
        # losses over a synth's chain (``uses_stages``, e.g. signal_chain) compare every
        # stage, so they are bound on the target's stages, which need its parameters
        self._uses_stages = bool(getattr(loss, "uses_stages", False))
        if self._uses_stages:
            self._bound_loss = loss.bind(self._target_stages())
        else:
            self._bound_loss = loss.bind(self._target_audio)
        self.on_progress = on_progress
        self.renders = 0
        self.backwards = 0
        self.best_loss = math.inf
        self.best_x: Tensor | None = None
        self.best_controls: dict[str, Tensor] | None = None  # see evaluate_controls
        self.curve: list[CurvePoint] = []
        self._cap: int | None = None  # a temporary render cap set by limit()
        self._t0 = time.perf_counter()
        self.stopped = False  # set by the harness when the solver overran its time: nothing more is rendered

    # --- what the solver may read -------------------------------------------------
    @property
    def spec(self):
        return self.synth.spec

    @property
    def dim(self) -> int:
        return self.synth.dim

    @property
    def sample_rate(self) -> int:
        return self.target.sample_rate

    @property
    def duration(self) -> float:
        return self.target.duration

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    @property
    def remaining(self) -> int | None:
        """Renders left (under a :meth:`limit` cap, if one is set), or None when only seconds are limited."""
        caps = [c for c in (self.budget.renders, self._cap) if c is not None]
        if not caps:
            return None
        return max(0, min(caps) - self.renders)

    @property
    def exhausted(self) -> bool:
        if self.stopped:
            return True
        rem = self.remaining
        if rem is not None and rem <= 0:
            return True
        return self.budget.seconds is not None and self.elapsed >= self.budget.seconds

    @contextmanager
    def limit(self, renders: int) -> Iterator[Problem]:
        """Cap spending at ``renders`` more renders while the block runs (for staged solvers).

        Inside the block the problem behaves as if its budget ended at the cap
        (``remaining``, ``exhausted``, and BudgetExhausted from evaluate); the
        render count, curve and best point carry on as usual, and the cap is
        lifted on leaving the block. Caps nest (the tighter one holds).
        """
        previous = self._cap
        cap = self.renders + max(0, int(renders))
        self._cap = cap if previous is None else min(previous, cap)
        try:
            yield self
        finally:
            self._cap = previous

    # --- spending budget ------------------------------------------------------------
    def charge_render(self, rows: int) -> None:
        """Count ``rows`` renders a solver made outside :meth:`evaluate` and its kin (through
        :meth:`render`, :meth:`loss_of`, the synth object or any synth): the harness meters every
        render while the solver searches (:func:`synths.base.render_meter`). ``rows`` 0 is the check
        before a render: BudgetExhausted once the budget is spent. They count as renders; they do not
        make a best point (only evaluated candidates do)."""
        if rows == 0:
            if self.exhausted:
                raise BudgetExhausted
            return
        self.renders += rows
        self.curve.append(CurvePoint(self.renders, self.elapsed, self.best_loss))

    def render(self, x: Tensor) -> Tensor:
        """Audio ``[B, T]`` for unit parameters ``x[B, D]``: one render per row, counted while a
        solver searches (the harness's own renders, for logging, are free)."""
        return self.synth.render(
            x.to(self.device, torch.float32),
            sample_rate=self.sample_rate,
            duration=self.duration,
            note=self.target.note,
        )

    def _stages(self, x: Tensor) -> dict[str, Tensor]:
        return self.synth.stages(
            x.to(self.device, torch.float32),
            sample_rate=self.sample_rate,
            duration=self.duration,
            note=self.target.note,
        )

    def _target_stages(self) -> dict[str, Tensor]:
        if self.target.params is None:
            raise UserError(
                f"loss '{getattr(self.loss, 'name', type(self.loss).__name__)}' compares every stage of the "
                f"synth, which needs targets with known parameters (target '{self.target.name}' has none); "
                "use a synthetic target suite or another loss"
            )
        with torch.no_grad():
            return self._stages(self.target.params.reshape(1, -1))

    def loss_of(self, x: Tensor) -> Tensor:
        """Loss ``[B]`` of ``x[B, D]`` without recording a best point; its renders are counted while a
        solver searches (use :meth:`evaluate`, which also records the best)."""
        if self._uses_stages:
            return self._bound_loss(self._stages(x))
        return self._bound_loss(self.render(x))

    def loss_of_audio(self, audio: Tensor) -> Tensor:
        """Loss ``[B]`` of audio ``[B, T]`` against the target (nothing rendered, nothing counted):
        what the harness scores a solver's time-varying match with."""
        return self._bound_loss(audio)

    def render_controls(self, controls: dict[str, Tensor]) -> Tensor:
        """Audio ``[B, T]`` of time-varying controls through ``synth.render_controls`` (no budget spent)."""
        if not hasattr(self.synth, "render_controls"):
            raise UserError(f"synth '{self.synth.name}' takes no time-varying controls; use one that does")
        return self.synth.render_controls(
            {k: v.to(self.device) for k, v in controls.items()},
            sample_rate=self.sample_rate,
            duration=self.duration,
            note=self.target.note,
        )

    def evaluate_controls(self, controls: dict[str, Tensor]) -> Tensor:
        """Losses ``[B]`` of time-varying controls (a batch of B control sets, one render each).

        For solvers whose match is not a static parameter point (DDX7, DDSP): the
        renders are counted and the curve records the loss, and the best controls are
        kept in ``best_controls``; ``best_x`` is not changed. The runner scores the
        controls a solver returns (``Result.controls``) by rendering them itself.
        """
        if self.exhausted:
            raise BudgetExhausted
        batch = next(iter(controls.values())).shape[0]
        rem = self.remaining
        if rem is not None and batch > rem:
            raise BudgetExhausted
        with torch.no_grad(), render_meter(None):  # counted here
            losses = self._bound_loss(self.render_controls(controls)).detach().to("cpu", torch.float64)
        self.renders += batch
        i = int(torch.argmin(torch.nan_to_num(losses, nan=math.inf)))
        if float(losses[i]) < self.best_loss:
            self.best_loss = float(losses[i])
            self.best_controls = {k: v[i : i + 1].detach().cpu() for k, v in controls.items()}
        self.curve.append(CurvePoint(self.renders, self.elapsed, self.best_loss))
        if self.on_progress is not None:
            self.on_progress(self)
        return losses.float()

    def _admit(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected parameters of shape [B, {self.dim}], got {tuple(x.shape)}")
        if self.exhausted:
            raise BudgetExhausted
        rem = self.remaining
        if rem is not None and x.shape[0] > rem:
            x = x[:rem]
        return x.detach().to(self.device, torch.float32).clamp(0.0, 1.0)

    def _record(self, x: Tensor, losses: Tensor) -> None:
        losses = losses.detach().to("cpu", torch.float64)
        self.renders += x.shape[0]
        finite = torch.where(torch.isfinite(losses), losses, torch.full_like(losses, math.inf))
        i = int(torch.argmin(finite))
        if float(finite[i]) < self.best_loss:
            self.best_loss = float(finite[i])
            self.best_x = x[i].detach().cpu().clone()
        self.curve.append(CurvePoint(self.renders, self.elapsed, self.best_loss))
        if self.on_progress is not None:
            self.on_progress(self)

    def evaluate(self, x: Tensor) -> Tensor:
        """Losses ``[B]`` of candidates ``x[B, D]`` (unit cube; clamped to it).

        Spends one render per row. A batch larger than what is left is cut to fit,
        its head evaluated and recorded, and then BudgetExhausted is raised.
        """
        full = x.shape[0] if x.ndim == 2 else 0
        xa = self._admit(x)
        with torch.no_grad(), render_meter(None):  # counted by _record
            losses = self.loss_of(xa)
        self._record(xa, losses)
        if xa.shape[0] < full:
            raise BudgetExhausted
        return losses.cpu()

    def value_and_grad(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Losses ``[B]`` and their gradients ``[B, D]`` with respect to ``x[B, D]``.

        One forward plus backward counts as one render per row (backward passes
        are also counted apart, in ``backwards``). Categorical coordinates get a
        zero gradient.
        """
        if not self.synth.differentiable:
            raise UserError(f"synth '{self.synth.name}' has no gradients; use a black-box solver (e.g. cma)")
        full = x.shape[0]
        xa = self._admit(x).requires_grad_(True)
        with torch.enable_grad(), render_meter(None):  # counted by _record
            losses = self.loss_of(xa)
            (grad,) = torch.autograd.grad(losses.sum(), xa)
        grad = torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)
        for i in self.spec.categorical_indices:
            grad[:, i] = 0.0
        self.backwards += xa.shape[0]
        self._record(xa, losses)
        if xa.shape[0] < full:
            raise BudgetExhausted
        return losses.detach().cpu(), grad.detach().cpu()

    def surrogate_value_and_grad(self, x: Tensor, damping: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Losses ``[B]`` of the synth's surrogate render (``render_surrogate(x, damping)``), and
        gradients with respect to ``x[B, D]`` and ``damping[B, S]``.

        Counts one render (and one backward) per row like :meth:`value_and_grad`, but
        the points are not candidates: a damped render's loss is not the true one, so
        neither the best point nor the curve's loss changes.
        """
        if self._uses_stages:
            raise UserError("the surrogate renders only the output; use an output loss, not signal_chain")
        full = x.shape[0]
        xa = self._admit(x).requires_grad_(True)
        damp = damping[: xa.shape[0]].detach().to(self.device, torch.float32).requires_grad_(True)
        with torch.enable_grad(), render_meter(None):  # counted below
            audio = self.synth.render_surrogate(
                xa, damp, sample_rate=self.sample_rate, duration=self.duration, note=self.target.note
            )
            losses = self._bound_loss(audio)
            grad_x, grad_d = torch.autograd.grad(losses.sum(), [xa, damp])
        grad_x = torch.nan_to_num(grad_x, nan=0.0, posinf=0.0, neginf=0.0)
        for i in self.spec.categorical_indices:
            grad_x[:, i] = 0.0
        self.renders += xa.shape[0]
        self.backwards += xa.shape[0]
        self.curve.append(CurvePoint(self.renders, self.elapsed, self.best_loss))
        if self.on_progress is not None:
            self.on_progress(self)
        if xa.shape[0] < full:
            raise BudgetExhausted
        return losses.detach().cpu(), grad_x.detach().cpu(), torch.nan_to_num(grad_d).detach().cpu()


@dataclass
class Result:
    """What a solver returns: its chosen parameters ``x[D]`` (unit cube) and any extras to log.

    The harness re-evaluates ``x`` itself; a solver cannot claim a loss.
    ``controls``, when given, are time-varying controls for ``synth.render_controls``
    (e.g. DDX7's per-frame operator levels): the harness then scores the render of
    the controls instead of ``x`` (it renders them itself), and ``x`` is only logged.
    ``info["metrics"]``, when given, maps names to numbers the runner logs as
    metrics beside its own (never replacing them), e.g. ``inference_seconds``.
    ``info["training"]``, when given, names what a learned solver answered from (e.g.
    ``checkpoint``, ``corpus``); the runner tags the run ``soundmatch.training.<key>`` and the
    leaderboard shows them.
    """

    x: Tensor
    info: dict[str, Any] = field(default_factory=dict)
    controls: dict[str, Tensor] | None = None


class Solver(ABC):
    """A sound-matching strategy. Subclasses are dataclasses whose fields are config options."""

    name: ClassVar[str] = ""
    # True for solvers that follow the synth's gradients (adam, sgd, lbfgs and those built on them)
    needs_gradients: ClassVar[bool] = False

    def check_synth(self, synth: Any) -> None:
        """Raise :class:`UserError` (one line saying what to use instead) when this solver cannot
        work on ``synth``. The run's config check calls it before any training or target, and ``bench`` uses
        it to mark a solver not applicable to a task. The default refuses a synth without
        gradients to a solver that :attr:`needs_gradients`."""
        if self.needs_gradients and not getattr(synth, "differentiable", True):
            raise UserError(
                f"solver {self.name} follows gradients, but synth '{synth.name}' has none; "
                "use a black-box solver (e.g. cma)"
            )

    def fit(self, task: Task) -> dict[str, float]:
        """Learn what can be learnt before any target is seen (amortized solvers).

        The runner calls this once per run, before the first target, outside every
        target's budget. Returns training figures to log as metrics (e.g.
        ``training_renders``, ``training_seconds``). The default learns nothing.
        """
        return {}

    def held_out(self, targets: list[Target]) -> list[Target]:
        """The targets this solver has not learnt from (the runner scores only these and says how
        many it left out). The default: all of them."""
        return list(targets)

    @abstractmethod
    def solve(self, problem: Problem) -> Result:
        """Search for parameters matching ``problem.target``; stop when the budget is spent."""
