"""Solver ``fm_match``: structure-aware FM matching for the DX7 family and fm2.

What can be read from the target is read (:func:`analysis.target.analyse`):
its f0, harmonic and inharmonic partials, and its envelope segments. Then,
after Horner, Beauchamp & Haken (1993):

1. **Structures, analytically** (:mod:`solvers.fm_spectrum`, no render): a beam
   search over the discrete genes (each stack's carrier and modulator ratios,
   DX7-representable; feedback) with the indices and stack gains fitted to the
   target's partials for each choice; the algorithm's slots stay empty unless
   the spectrum needs them. Where the synth may play algorithm 32
   (``synth.algorithm=null`` or 32), one more start puts a sine on each of the
   six strongest partials, at its own frequency and with its own decay. For a
   breathy target, one more puts a noise stack (a carrier modulated by its
   feedback operator at feedback 7) in the feedback slot of the best structure.
2. **Start points** (:mod:`solvers.fm_voice`): carriers on the measured f0
   (coarse / fine / detune chosen through the engine at the note played),
   output levels from the fitted gains and the target's peak level, envelopes
   from the segmented envelope through the engine's rate and level tables,
   the pitch EG neutral, the LFO drawing the target's vibrato (if any); a
   tremolo, the best structure's and the additive start again with it drawn.
3. **Rendered choice**: the ``candidates`` best structures are rendered in one
   batch; the ``finalists`` best get a short CMA-ES over their output levels
   only (``fit_share`` of the budget between them).
4. **Refinement**: the winner's levels, envelopes and output levels (ratios,
   algorithm and feedback kept; output levels within ``level_box`` steps of the
   start, so the structure's balance of partials holds; a vibrato's or a
   tremolo's LFO speed, depth and delay) by CMA-ES with small steps, restarting while budget
   remains, then, for a differentiable synth, a gradient polish with
   Adam on the run's loss over the same coordinates (``polish_share``).

Every render goes through ``problem.evaluate`` / ``problem.value_and_grad``, so
the budget counts them all; the result is the best point the problem
recorded. With ``synth.quantize=true`` (the default) that point renders as the
quantised voice exported to ``match.syx``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from analysis.target import TargetAnalysis, analyse
from solvers.base import BudgetExhausted, Problem, Result, Solver, solver_registry
from solvers.fm_motion import TREMOLO_LFO, VIBRATO_LFO
from solvers.fm_spectrum import MOD_RATIOS, Slot, Stack, Structure, search, target_grid
from solvers.fm_voice import (
    ADDITIVE_ALGORITHM,
    DEFAULT_ALGORITHM,
    additive_voice,
    algorithm_slots,
    dx7_voice,
    fm2_values,
    lfo_draws_tremolo,
    search_slots,
    sideband_ratios,
    with_breath,
    with_tremolo,
)
from soundmatch.errors import UserError
from synths.base import Note, note_off_time
from synths.dx7.algorithms import algorithm
from synths.dx7.family import is_dx7_family

INHARMONIC_SHARE = 0.05  # inharmonic peaks above this share of the strongest are offered as ratios
LEVEL_BOX = 12  # output-level steps (9 dB) the search may move a DX7 operator from its analytic start
FEEDBACK_BOX = 4  # the feedback operator's: its feedback grows with its level, and turns to noise
FM2_INDEX_SHARES = (0.05, 0.2, 0.45, 0.8)  # fm2 starts at these shares of the top index per sideband ratio
FM2_RATIO_BOX = 0.015  # fm2's ratio moves within this (unit cube, log axis: about 5%) of its start


@dataclass
class StartPlan:
    """Start points ``x [N, D]`` (best analytic structure first) and the coordinates each stage searches:
    ``levels`` (output levels: the short fits) and ``free`` (every continuous level, rate and output).
    ``widths [D]``: half-widths (unit cube) of the box around a start that the search stays in."""

    analysis: TargetAnalysis
    structures: list[Structure]
    x: Tensor
    levels: list[int]
    free: list[int]
    widths: Tensor
    info: dict[str, Any] = field(default_factory=dict)

    def box(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Lower and upper bounds ``[D]`` of the search around start ``x [D]``."""
        return (x - self.widths).clamp(0.0, 1.0), (x + self.widths).clamp(0.0, 1.0)


def reads_fm(synth: Any) -> bool:
    """Whether fm_match (and ``x0=analysis`` through it) can read starts for ``synth``."""
    return is_dx7_family(synth) or synth.name == "fm2"


def _describe(structure: Structure) -> str:
    if not structure.stacks:
        return "a sampled voice"
    parts = []
    for s in structure.stacks:
        if s is None:
            parts.append("-")
        elif s.m is None:
            parts.append(f"c{s.c:g}")
        else:
            fb = f" fb{s.feedback}" if s.feedback else ""
            parts.append(f"c{s.c:g}<m{s.m:g} I{s.index:.2f}{fb}")
    return " | ".join(parts)


def _harmonic_target(analysis: TargetAnalysis) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The target's partials on the f0/2 grid and its strong inharmonic peaks (ratio, amplitude)."""
    p = analysis.partials
    if p is None or not len(p.harmonics) or p.harmonics.max() <= 0:
        # unpitched, or nothing at f0's multiples: aim at a plain tone
        harmonics = np.zeros(8)
        harmonics[0] = 1.0
        return target_grid(harmonics, [], 16), []
    strongest = max(q.amp for q in p.peaks)
    inharmonic = [
        (q.ratio, q.amp) for q in p.peaks if q.harmonic is None and q.amp >= INHARMONIC_SHARE * strongest
    ]
    return target_grid(p.harmonics, inharmonic, 2 * len(p.harmonics)), inharmonic[:3]


def analytic_plan(problem: Problem, keep: int = 8, level_box: int = LEVEL_BOX, sampled: int = 0) -> StartPlan:
    """Analyse the target and build the start points of ``problem``'s synth (no render spent).

    ``level_box``: DX7 output levels stay within this many steps of the start
    (``FEEDBACK_BOX`` for the feedback operator), so the search keeps the
    analytic structure's balance of partials, which is what sets the heard pitch.
    ``sampled``: for a DX7 whose ratios are fixed (the analytic search then has
    only indices and gains to choose), this many of the synth's own random
    voices (seeded by the problem) join the starts, the rendered choice takes
    whichever sounds nearest, and no box holds the output levels.
    """
    synth = problem.synth
    target = problem.target
    analysis = analyse(target.audio, target.sample_rate, target.note)
    grid, inharmonic = _harmonic_target(analysis)
    note = target.note or Note()
    hold = note_off_time(problem.duration, getattr(synth, "hold", None))
    names = problem.spec.names
    if is_dx7_family(synth):
        number = int(synth.algorithm) if synth.algorithm is not None else DEFAULT_ALGORITHM
        ops = algorithm_slots(number)
        fixed_ratios = None if synth.ratios is None else [float(r) for r in synth.ratios]
        carriers = tuple(round(r, 2) for r, _ in inharmonic)
        modulators = tuple(round(r - 1.0, 2) for r, _ in inharmonic if r > 1.1) + carriers
        slots = search_slots(ops, fixed_ratios, synth.feedback, carriers, modulators)
        structures = search(grid, slots, keep=keep)
        tune_ratios = fixed_ratios is None and "op1_coarse" in names
        voices = [
            dx7_voice(synth.base, number, ops, s, analysis, note.pitch, hold, tune_ratios, target.sample_rate)
            for s in structures
        ]
        rows = [synth.voice_to_unit(v) for v in voices]
        breath = None
        if tune_ratios and synth.feedback is None:
            breath = with_breath(voices[0], ops, structures[0], analysis, hold)
        if breath is not None:  # a breathy target: the best structure with noise in its feedback slot
            rows.append(synth.voice_to_unit(breath[0]))
            structures = [*structures, breath[1]]
        # a sine per partial on algorithm 32, where the synth may play it: bells and bars, whose
        # partials no stack on the f0/2 grid places
        additive = None
        if tune_ratios and ("algorithm" in names or number == ADDITIVE_ALGORITHM):
            additive = additive_voice(synth.base, analysis, note.pitch, hold, target.sample_rate)
            if additive is not None:
                rows.append(synth.voice_to_unit(additive[0]))
                structures = [*structures, additive[1]]
        # a tremolo: the best structure's voice and the additive one again, each with it drawn
        twins = ([(voices[0], structures[0])] if voices else []) + ([additive] if additive else [])
        for voice, structure in twins:
            trembling = with_tremolo(voice, analysis, target.sample_rate)
            if trembling is not None:
                rows.append(synth.voice_to_unit(trembling))
                structures = [*structures, structure]
        if fixed_ratios is not None and sampled > 0:
            rows += list(synth.sample(sampled, problem.generator))
            structures = structures + [Structure([]) for _ in range(sampled)]
        levels = [i for i, n in enumerate(names) if n.startswith("op") and n.endswith("_output")]
        widths = torch.ones(len(names))
        fb_op = algorithm(number).feedback[0]
        # with fixed ratios the starts' balance is not an analytic structure's to keep (sampled voices
        # compete): the output levels range freely
        for i in levels if fixed_ratios is None else []:
            steps = FEEDBACK_BOX if names[i] == f"op{fb_op}_output" else level_box
            widths[i] = steps / 99.0
        free = [
            i
            for i, n in enumerate(names)
            if n.startswith("op")
            and ("_rate" in n[3:8] or "_level" in n[3:9] or n.endswith("_output"))
            and not n.endswith("rate_scaling")
        ]
        # the LFO that draws a vibrato or a tremolo is refined too
        lfo = (VIBRATO_LFO if analysis.vibrato is not None else ()) + (
            TREMOLO_LFO if lfo_draws_tremolo(analysis) else ())
        free += [names.index(n) for n in dict.fromkeys(lfo) if n in names]
    elif synth.name == "fm2":
        ratio_param = problem.spec["ratio"]
        low, high = float(ratio_param.low), float(ratio_param.high)
        mods = (None, *[m for m in MOD_RATIOS if low <= m <= high])
        structures = search(grid, [Slot((1.0,), mods)], keep=keep)
        # fm2's ratio is continuous: the ratios the sidebands show, each at a few indices (the
        # rendered choice below picks), beside the analytic structures on the DX7's ratios
        carrier_hz = note.hz
        top_index = float(problem.spec["index"].high)
        for r in sideband_ratios(target.audio.numpy(), target.sample_rate, carrier_hz, low, high, limit=keep):
            structures += [Structure([Stack(1.0, r, index=i * top_index)]) for i in FM2_INDEX_SHARES]
        rows = []
        for s in structures:
            values = fm2_values(s, analysis, problem.duration, getattr(synth, "hold", None))
            rows.append(problem.spec.to_unit({n: values[n] for n in names}))
        levels = [names.index(n) for n in ("gain", "index")]
        free = list(range(len(names)))
        widths = torch.ones(len(names))
        widths[names.index("ratio")] = FM2_RATIO_BOX
    else:
        raise UserError(
            f"solver fm_match matches FM synths: use synth=dx7 (or a dx7 preset, dexed) or fm2, "
            f"not '{synth.name}'"
        )
    info = {
        "analysis": analysis.as_log(),
        "structures": [_describe(s) for s in structures],
        "analytic_errors_db2": [round(s.error, 3) for s in structures if s.stacks],
    }
    return StartPlan(analysis, structures, torch.stack(rows).float(), levels, free, widths, info)


def analytic_start(problem: Problem) -> Tensor:
    """The analytic start point ``[D]`` of ``problem`` (the best structure; no render spent)."""
    return analytic_plan(problem, keep=1).x[0]


def _cma(
    problem: Problem,
    x0: Tensor,
    idx: list[int],
    sigma: float,
    popsize: int,
    seed: int,
    box: tuple[Tensor, Tensor],
) -> tuple[Tensor, float]:
    """CMA-ES over the coordinates ``idx`` of ``x0`` (others kept) within ``box`` (lower, upper ``[D]``);
    the best point it evaluated and its loss. Stops when CMA-ES does or when the (possibly capped)
    budget ends."""
    import cma

    best, best_loss = x0.clone(), math.inf
    if not idx:
        return best, best_loss
    bounds = [box[0][idx].double().tolist(), box[1][idx].double().tolist()]
    opts = {"verbose": -9, "bounds": bounds, "popsize": popsize, "seed": seed, "tolx": 2e-3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cma warns about re-sampling near bounds, harmlessly
        start = torch.maximum(torch.minimum(x0, box[1]), box[0])
        es = cma.CMAEvolutionStrategy(start[idx].double().numpy(), sigma, opts)
        try:
            while not es.stop():
                cands = es.ask()
                full = x0.repeat(len(cands), 1)
                full[:, idx] = torch.tensor(np.array(cands), dtype=full.dtype)
                losses = problem.evaluate(full)
                i = int(torch.argmin(torch.nan_to_num(losses, nan=math.inf)))
                if float(losses[i]) < best_loss:
                    best, best_loss = full[i].clone(), float(losses[i])
                es.tell(cands, np.nan_to_num(losses.double().numpy(), nan=1e30, posinf=1e30).tolist())
        except BudgetExhausted:
            pass
    return best, best_loss


@solver_registry.register("fm_match")
@dataclass
class FMMatch(Solver):
    """Structure-aware FM matching (see the module docstring).

    Args:
        candidates: structures from the analytic search rendered as start points.
        finalists: of them, how many get a short fit of their output levels.
        fit_share: share of the budget for the finalists' fits (split evenly).
        polish_share: share of the budget for the gradient polish (differentiable synths only).
        sigma: CMA-ES step of the refinement, unit-cube units (1/99 is one DX7 step).
        popsize: CMA-ES population of the refinement (the short fits use 8).
        lr: Adam's step in the polish, unit-cube units.
        level_box: DX7 output levels stay within this many steps (0.75 dB each) of the chosen
            structure's start (the feedback operator's within ``FEEDBACK_BOX``).
        sampled_starts: for a DX7 with fixed ratios, random voices of the synth rendered beside the
            analytic starts (at most an eighth of the budget).
    """

    candidates: int = 8
    finalists: int = 3
    fit_share: float = 0.25
    polish_share: float = 0.15
    sigma: float = 0.04
    popsize: int = 12
    lr: float = 0.004
    level_box: int = LEVEL_BOX
    sampled_starts: int = 32

    name = "fm_match"

    def __post_init__(self) -> None:
        if self.candidates < 1 or self.finalists < 1:
            raise UserError("solver.candidates and solver.finalists must be >= 1")
        if not (0.0 <= self.fit_share < 1.0 and 0.0 <= self.polish_share < 1.0):
            raise UserError("solver.fit_share and solver.polish_share must be in [0, 1)")
        if not self.sigma > 0 or self.popsize < 2:
            raise UserError("solver.sigma must be > 0 and solver.popsize >= 2")

    def check_synth(self, synth: Any) -> None:
        if not reads_fm(synth):
            raise UserError(
                f"solver fm_match matches FM synths: use synth=dx7 (or a dx7 preset, dexed) or fm2, "
                f"not '{synth.name}'"
            )

    def solve(self, problem: Problem, x0: Tensor | None = None) -> Result:
        """Render the analytic starts (and ``x0[K, D]``, starting points another solver found, e.g.
        ``retrieval``'s presets), fit the finalists' levels, refine the best with CMA-ES, polish."""
        self.check_synth(problem.synth)
        total = problem.remaining
        # small budgets render fewer structures and fit fewer finalists, so the refinement has renders
        keep = self.candidates if total is None else min(self.candidates, max(2, total // 8))
        n_final = self.finalists if total is None else min(self.finalists, max(1, total // 150))
        sampled = 0 if total is None else min(self.sampled_starts, total // 8)
        plan = analytic_plan(problem, keep=keep, level_box=self.level_box, sampled=sampled)
        if x0 is not None:  # given starts compete with the analytic ones, in the same boxes
            given = x0.reshape(-1, problem.dim).float().clamp(0.0, 1.0)
            plan.x = torch.cat([plan.x, given])
            plan.info["structures"] = [*plan.info["structures"], *["given start"] * given.shape[0]]
        info: dict[str, Any] = dict(plan.info)
        seeds = iter(torch.randint(1, 2**31 - 1, (64,), generator=problem.generator).tolist())
        try:
            losses = problem.evaluate(plan.x)
            order = torch.argsort(torch.nan_to_num(losses, nan=math.inf)).tolist()
            info["chosen_structure"] = info["structures"][order[0]]
            finalists = order[:n_final]
            share = None if total is None else max(1, int(self.fit_share * total) // len(finalists))
            fitted: list[tuple[float, Tensor, int]] = []
            for i in finalists:
                with problem.limit(share if share is not None else 10**9):
                    x, loss = _cma(problem, plan.x[i], plan.levels, 0.05, 8, next(seeds), plan.box(plan.x[i]))
                fitted.append((min(loss, float(losses[i])), x if loss < float(losses[i]) else plan.x[i], i))
                if problem.exhausted:
                    break
            fitted.sort(key=lambda f: f[0])
            best = fitted[0][1]
            box = plan.box(plan.x[fitted[0][2]])
            info["chosen_structure"] = info["structures"][fitted[0][2]]
            polish = problem.synth.differentiable and self.polish_share > 0
            reserve = int(self.polish_share * total) if (polish and total is not None) else 0
            sigma = self.sigma
            while not problem.exhausted and (problem.remaining is None or problem.remaining > reserve):
                cap = None if problem.remaining is None else problem.remaining - reserve
                before = problem.renders
                with problem.limit(cap if cap is not None else 10**9):
                    x, loss = _cma(problem, best, plan.free, sigma, self.popsize, next(seeds, 1), box)
                if problem.renders == before:  # nothing left to search here
                    break
                if math.isfinite(loss) and problem.best_x is not None:
                    best = problem.best_x.clone()
                sigma = max(sigma * 0.6, 0.01)  # each restart looks closer around the best so far
            if polish:
                self._polish(problem, best, plan.free, box)
        except BudgetExhausted:
            pass
        return Result(problem.best_x, info=info)

    def _polish(self, problem: Problem, x0: Tensor, idx: list[int], box: tuple[Tensor, Tensor]) -> None:
        """Adam on the run's loss over the coordinates ``idx`` (within ``box``) until the budget ends."""
        x = x0.clone()
        m = torch.zeros(len(idx))
        v = torch.zeros(len(idx))
        b1, b2 = 0.9, 0.999
        step = 0
        while not problem.exhausted:
            _, grad = problem.value_and_grad(x.unsqueeze(0))
            g = grad[0, idx]
            step += 1
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            update = (m / (1 - b1**step)) / ((v / (1 - b2**step)).sqrt() + 1e-12)
            x[idx] = torch.maximum(torch.minimum(x[idx] - self.lr * update, box[1][idx]), box[0][idx])
