"""Solve and score one target: the solver's search under the harness's meter and clock, then every
metric of its match (and the reference engine's check of the patch: Dexed for the DX7)."""

from __future__ import annotations

import copy
import math
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from benchmark.run.progress import ProgressView
from benchmark.run.reference_check import reference_check
from benchmark.run.spec import RunSpec
from benchmark.run.tracking import TRAINING_TAG
from metrics.base import Evaluation, bind_metric
from solvers.base import BudgetExhausted, Problem, Result, Target
from soundmatch.seeding import derive_seed
from synths.base import render_meter

HARD_STOP_GRACE = 5.0  # s past budget.seconds before a solver that does not stop itself is abandoned
STOP_WAIT = 10.0  # s an interrupted search is given to reach its next render and end


@dataclass
class TargetOutcome:
    """One target's result as logged: final metrics, spend, and where it is stored."""

    target: str
    metrics: dict[str, float | None]
    renders: int
    seconds: float
    run_id: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    match: torch.Tensor | None = None  # the match's audio [T], for suite-level metrics (fad)
    tags: dict[str, str] = field(default_factory=dict)  # e.g. whether the reference check ran


class SolverFailed(RuntimeError):
    """A solver's own code ended its search with an exception (``SystemExit`` and ``KeyboardInterrupt``
    raised inside it included): its target fails, the sweep goes on."""


def solve_one(solver: Any, problem: Problem) -> tuple[torch.Tensor, dict[str, Any]]:
    """Run the solver; the parameters it returns (or the best it evaluated) and its info.

    The search runs in its own thread, under the render meter (every synth render it makes is
    counted against the budget, :func:`synths.base.render_meter`). With ``budget.seconds``, a
    solver still searching ``HARD_STOP_GRACE`` s past it is stopped: the problem refuses every
    further render, its best point so far is scored, and ``info["over_time"]`` says so (the
    abandoned thread ends with the process). Whatever the solver's code raises ends this target
    as :class:`SolverFailed`; a Ctrl-C of the user still stops the whole run.
    """
    box: dict[str, Any] = {}

    def search() -> None:
        with render_meter(problem.charge_render):
            try:
                box["result"] = solver.solve(problem)
            except BudgetExhausted:
                pass
            except BaseException as err:  # the solver's own, SystemExit and KeyboardInterrupt included
                box["error"] = err

    thread = threading.Thread(target=search, name=f"solver-{solver.name}", daemon=True)
    thread.start()
    seconds = problem.budget.seconds
    try:
        thread.join(None if seconds is None else seconds + HARD_STOP_GRACE)
    except BaseException:  # the user's Ctrl-C or a SIGTERM: let the search end at its next render first
        problem.stopped = True  # (a thread killed inside torch at exit aborts the whole process)
        thread.join(STOP_WAIT)
        raise
    over_time = thread.is_alive()
    if over_time:
        problem.stopped = True  # its later renders raise BudgetExhausted in its own thread
    if "error" in box:
        err = box["error"]
        if isinstance(err, Exception):
            raise err  # as the solver raised it (its traceback kept)
        raise SolverFailed(
            f"solver '{solver.name}' raised {type(err).__name__}: {err}".rstrip(": ")
        ) from err
    result: Result | None = box.get("result")
    info = dict(result.info) if result is not None else {}
    if over_time:
        info["over_time"] = True
        result = None  # whatever it may still return is too late: its best evaluated point counts
    if result is not None and result.controls is not None:  # a time-varying match: scored as controls
        info["controls"] = result.controls
    x = result.x if result is not None and result.x is not None else problem.best_x
    if x is None:
        raise RuntimeError(f"solver '{solver.name}' evaluated nothing and returned nothing")
    x = x.detach().reshape(-1).cpu().float()
    if not bool(torch.isfinite(x).all()):
        raise FloatingPointError(f"solver '{solver.name}' returned non-finite parameters: {x.tolist()}")
    return x, info


def score(
    problem: Problem,
    x: torch.Tensor,
    metric_names: list[str],
    controls: dict[str, torch.Tensor] | None = None,
    metric_options: dict[str, dict[str, Any]] | None = None,
) -> tuple[dict[str, float | None], torch.Tensor]:
    """Re-evaluate ``x`` (no budget spent) and compute every metric; returns metrics and audio.

    With ``controls`` (a solver's time-varying match, ``Result.controls``) their render is scored instead.
    ``metric_options``: per metric name, the keyword options it is called with.
    """
    with torch.no_grad():
        if controls is not None:
            audio = problem.render_controls(controls)
            loss = float(problem.loss_of_audio(audio)[0])
        else:
            audio = problem.render(x.unsqueeze(0))
            loss = float(problem.loss_of(x.unsqueeze(0))[0])
    pred = audio[0].cpu().numpy()
    target = problem.target
    ev = Evaluation(
        pred=pred,
        target=target.audio.cpu().numpy(),
        sample_rate=target.sample_rate,
        pred_params=x.numpy(),
        target_params=None if target.params is None else target.params.cpu().numpy(),
        note_hz=None if target.note is None else target.note.hz,
    )
    if math.isnan(loss):  # a NaN match is a fault of the run; an infinite loss is a (bad) result
        raise FloatingPointError("the loss of the returned parameters is NaN")
    values: dict[str, float | None] = {"loss": loss}
    options = metric_options or {}
    for name in metric_names:
        values[name] = bind_metric(name, options.get(name))(ev)
    return values, audio[0].cpu()


def synth_for_target(synth: Any, target: Target, auto_hold: bool) -> tuple[Any, dict[str, str]]:
    """The synth that plays ``target``, and tags saying when its note-off falls.

    With ``auto_hold`` (``synth.hold=auto`` on a recorded suite) the note-off is read
    from the target's loudness envelope (:func:`analysis.envelope.note_off_time`):
    where its release starts, or the clip's end when the note sustains; the synth is
    a copy of ``synth`` with that ``hold``. Otherwise ``synth`` itself plays it.
    """
    if not auto_hold or not hasattr(synth, "hold"):
        return synth, {}
    from analysis.envelope import note_off_time

    seconds, sustains = note_off_time(target.audio.detach().cpu().numpy(), target.sample_rate)
    played = copy.copy(synth)
    played.hold = float(seconds)
    source = "sustains to the clip end" if sustains else "release found"
    return played, {"soundmatch.hold": f"{seconds:.4f}", "soundmatch.hold_source": source}


def solve_target(spec: RunSpec, synth: Any, target: Target, view: ProgressView) -> TargetOutcome:
    """``spec``'s solver on ``target`` played by ``synth`` (its seed derived from the run's seed and
    the target's name), scored with ``spec``'s metrics; a patch is also checked in its reference
    engine (the DX7's: Dexed)."""
    seed = derive_seed(spec.seed, "solver", target.name) % 2**31
    problem = Problem(synth, target, spec.loss, spec.budget, seed=seed, device=spec.context.device,
                      on_progress=view.update)  # fmt: skip
    view.start_target(target.name, problem)
    t0 = time.perf_counter()
    x, info = solve_one(spec.solver, problem)
    seconds = time.perf_counter() - t0
    controls = info.pop("controls", None)
    values, match = score(problem, x, spec.metric_names, controls, spec.metric_options)
    values.update(renders=float(problem.renders), backwards=float(problem.backwards))
    values["seconds"] = seconds
    if info.get("over_time"):  # stopped by the harness: its best evaluated point is what is scored
        values["over_time"] = 1.0
        print(f"{target.name}: solver {spec.solver_name} overran budget.seconds and was stopped",
              file=sys.stderr)  # fmt: skip
    extra = info.pop("metrics", None) or {}  # a solver's own figures (e.g. inference_seconds)
    values.update({k: float(v) for k, v in extra.items() if k not in values})
    # what a learned solver answered from (its checkpoint, its training corpus): run tags
    tags = {f"{TRAINING_TAG}{k}": str(v) for k, v in (info.pop("training", None) or {}).items()}
    if controls is None:  # a voice, not per-frame controls: what match.syx holds
        check = reference_check(synth, x, target.note, target.duration)
        values.update(check.values)
        tags.update(check.tags())
        if check.skipped and not check.quiet:  # an engine not installed: the tag says so, quietly
            print(f"{target.name}: {check.engine} check skipped: {check.skipped}", file=sys.stderr)
    return TargetOutcome(
        target.name, values, problem.renders, seconds, info={"x": x, **info}, match=match, tags=tags
    )
