"""Where search solvers start (``solver.x0``): one helper for cma, ga, ng, hybrid and the gradient solvers.

``analysis`` starts from what is read from the target, no render spent: for
the FM family what fm_match reads (:func:`solvers.fm_match.analytic_plan`:
carriers on the measured f0, modulator ratios that explain the partials,
envelopes and levels from the target's envelope); for a moog chain
:func:`solvers.moog_start.moog_start` (oscillators on the f0 with the nearest
waveform, the low-pass fitted to the spectral envelope, the ADSR from the
envelope's segments). The leaderboard can then tell the gain of the start from
the gain of the search. The other starts need no analysis.
"""

from __future__ import annotations

import weakref

import torch
from torch import Tensor

from solvers.base import Problem
from soundmatch.errors import UserError

STARTS = ("random", "center", "sample", "analysis")
JITTER = 0.05  # unit-cube sigma of the extra analysis starts around the best analytic point

_plans: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def check_start(key: str, value: str, allowed: tuple[str, ...] = STARTS) -> None:
    """One clear error for an unknown start ``solver.<key>=<value>``."""
    if value not in allowed:
        raise UserError(f"solver.{key} must be one of {', '.join(allowed)}, got '{value}'")


def analysis_points(problem: Problem, n: int) -> Tensor:
    """``n`` start points ``[n, D]`` from the target's analysis: the best analytic structures first
    (at most 8), then the best one jittered by ``JITTER`` (seeded by the problem's generator).

    The plan is made once per problem (restarting solvers ask again). Raises a
    UserError for synths no analysis reads (neither the FM family nor a moog chain).
    """
    from solvers.fm_match import analytic_plan, reads_fm
    from solvers.moog_start import moog_start

    rows = _plans.get(problem)
    if rows is None:
        synth = problem.synth
        moog = getattr(synth, "chain_data", None) is not None
        if not (moog or reads_fm(synth)):
            raise UserError(
                f"solver.x0=analysis reads start points for the FM family (dx7 and its presets, fm2) "
                f"and moog, not '{synth.name}'; use x0=random, center or sample"
            )
        rows = moog_start(problem).unsqueeze(0) if moog else analytic_plan(problem, keep=8).x
        _plans[problem] = rows
    rows = rows[:n]
    if rows.shape[0] < n:
        noise = JITTER * torch.randn(n - rows.shape[0], problem.dim, generator=problem.generator)
        rows = torch.cat([rows, (rows[:1] + noise).clamp(0.0, 1.0)])
    return rows.float()


def start_points(problem: Problem, how: str, n: int) -> Tensor:
    """``n`` start points ``[n, D]`` in the unit cube: ``random`` (uniform), ``center`` (0.5),
    ``sample`` (the synth's prior, ``synth.sample``) or ``analysis`` (:func:`analysis_points`)."""
    check_start("x0", how)
    if how == "analysis":
        return analysis_points(problem, n)
    if how == "center":
        return torch.full((n, problem.dim), 0.5)
    if how == "sample":
        return problem.synth.sample(n, problem.generator).float().clamp(0.0, 1.0)
    return torch.rand(n, problem.dim, generator=problem.generator)
