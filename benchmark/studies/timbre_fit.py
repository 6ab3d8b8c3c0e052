"""``match_distance``'s timbre weights chosen on listeners' ratings, checked leave-one-set-out.

``python -m benchmark calibrate human=PATH fit=true`` runs this after the
agreement table. For every pair of every rating set the five timbre terms of
:func:`metrics.match_distance.timbre_components` are computed once (both
directions, averaged); a weighting ``sum_k w_k c_k`` with ``w_frames`` fixed
(the scale is free: only ratios change an order) is then fitted to maximise the
mean over sets of Spearman's rho plus the mean per-anchor Spearman
(Nelder-Mead on the log-ratios, started from the shipped weights).

Three figures come out: the shipped weights; weights fitted on all sets
(in-sample); and, for each set, weights fitted on the *other* sets and scored
on it (leave-one-set-out), averaged over sets. The gap between the last two is
what tuning on the data bought beyond what carries to a set never seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.studies.human import RatingSet, agreement
from metrics.match_distance import TIMBRE_WEIGHTS, timbre_components
from metrics.pairwise import symmetric

FIT_ITERATIONS = 150
SIMPLEX_STEP = 0.7  # log-weight steps of the starting simplex


def component_matrices(sets: list[RatingSet], sample_rate: int) -> dict[str, dict[str, np.ndarray]]:
    """``{set: {term: symmetric [N, N]}}`` of every timbre term over every pair (both cut to the
    shorter, both directions averaged)."""
    out = {}
    for s in sets:
        n = len(s.sounds)
        mats = {k: np.zeros((n, n)) for k in TIMBRE_WEIGHTS}
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                length = min(len(s.sounds[i]), len(s.sounds[j]))
                parts = timbre_components(s.sounds[j][:length], s.sounds[i][:length], sample_rate)
                for k, v in parts.items():
                    mats[k][i, j] = v
        out[s.name] = {k: symmetric(m) for k, m in mats.items()}
    return out


def weighted(mats: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    return sum(weights[k] * mats[k] for k in weights)


def score(comps: dict[str, dict[str, np.ndarray]], sets: list[RatingSet], names: list[str],
          weights: dict[str, float]) -> dict[str, dict[str, float]]:
    """Agreement figures per set (``names``) of the weighted timbre distance."""
    by_name = {s.name: s for s in sets}
    return {n: agreement(weighted(comps[n], weights), by_name[n].ratings) for n in names}


def fit_weights(comps: dict[str, dict[str, np.ndarray]], sets: list[RatingSet], names: list[str],
                start: dict[str, float]) -> dict[str, float]:
    """Weights maximising mean (Spearman + per-anchor Spearman) over ``names``."""
    from scipy.optimize import minimize

    keys = list(start)
    base = start[keys[0]]

    def unpack(x: np.ndarray) -> dict[str, float]:
        return {keys[0]: base, **{k: float(start[k] * np.exp(v)) for k, v in zip(keys[1:], x, strict=True)}}

    def loss(x: np.ndarray) -> float:
        figs = score(comps, sets, names, unpack(x)).values()
        return -float(np.mean([f["spearman"] + f["anchor"] for f in figs]))

    # a simplex of steps that change each weight by about 2x (the default, 5% of a zero start, is a
    # few parts in ten thousand: it never leaves the start)
    dim = len(keys) - 1
    simplex = np.vstack([np.zeros(dim), SIMPLEX_STEP * np.eye(dim)])
    options = {"maxiter": FIT_ITERATIONS, "xatol": 0.02, "fatol": 1e-4, "initial_simplex": simplex}
    result = minimize(loss, np.zeros(dim), method="Nelder-Mead", options=options)
    return unpack(result.x)


def _mean(figs: dict[str, dict[str, float]], key: str) -> float:
    return float(np.mean([f[key] for f in figs.values()]))


def fit_report(sets: list[RatingSet], values: dict[str, Any]) -> str:
    """The shipped, in-sample and leave-one-set-out figures of the timbre weights, as markdown."""
    names = [s.name for s in sets]
    if len(names) < 3:
        return "\nfit=true needs at least 3 rating sets (one is held out at a time).\n"
    print(f"fitting match_distance's timbre weights on {len(names)} sets, leave-one-set-out ...", flush=True)
    comps = component_matrices(sets, values["sample_rate"])
    shipped = score(comps, sets, names, TIMBRE_WEIGHTS)
    fitted = fit_weights(comps, sets, names, TIMBRE_WEIGHTS)
    in_sample = score(comps, sets, names, fitted)
    held_out: dict[str, dict[str, float]] = {}
    for name in names:
        weights = fit_weights(comps, sets, [n for n in names if n != name], TIMBRE_WEIGHTS)
        held_out[name] = score(comps, sets, [name], weights)[name]
    scale = TIMBRE_WEIGHTS[next(iter(TIMBRE_WEIGHTS))]
    lines = [
        "",
        "Timbre weights of match_distance on these sets (the timbre term alone; weights relative to "
        "frames_db):",
        "",
        "| weights | Spearman | per-anchor Spearman | " + " | ".join(TIMBRE_WEIGHTS) + " |",
        "|---|---|---|" + "---|" * len(TIMBRE_WEIGHTS),
    ]
    rows = (("shipped", shipped, TIMBRE_WEIGHTS), ("fitted, in-sample", in_sample, fitted))
    for label, figs, weights in rows:
        cells = " | ".join(f"{weights[k] / scale:.3g}" for k in TIMBRE_WEIGHTS)
        means = f"{_mean(figs, 'spearman'):.3f} | {_mean(figs, 'anchor'):.3f}"
        lines.append(f"| {label} | {means} | {cells} |")
    means = f"{_mean(held_out, 'spearman'):.3f} | {_mean(held_out, 'anchor'):.3f}"
    lines.append(f"| leave-one-set-out | {means} |" + " (refitted per held-out set) |" * len(TIMBRE_WEIGHTS))
    lines += ["", "| held-out set | Spearman | per-anchor Spearman |", "|---|---|---|"]
    lines += [f"| {n} | {f['spearman']:.3f} | {f['anchor']:.3f} |" for n, f in held_out.items()]
    return "\n".join(lines) + "\n"
