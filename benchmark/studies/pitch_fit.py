"""``match_distance``'s pitch curve chosen with the ladder as a constraint and listeners' ratings
as the objective, checked leave-one-set-out.

``python -m benchmark calibrate human=PATH fit=true`` runs this after the timbre
weights. The ladder fixes the charge at 10 cents (between a 6 dB gain change and
a softer note) and at a semitone (beyond another instrument) and leaves the
curve between free; listeners' ratings, made on sounds meant to share a pitch
whose f0 readings still differ by tens of cents or an octave, choose it.

Every term of :func:`metrics.match_distance.match_components` is computed once
per ordered pair of every rating set and per rung of every ladder note (the
bundled ladder, and ``ladder=DIR`` when given); a curve's distances are then
``|level| + timbre + PitchCurve.pitch_db(...)`` without another analysis. Over
:data:`GRID`, the curves that keep every adjacent ladder pair ordered on at
least 90% of notes and the enveloped sine under the enveloped noise on at least
95% (on every ladder) are scored on the sets by the mean over sets of Spearman
plus per-anchor Spearman. Three figures come out: the shipped curve, the best
curve on all sets (in-sample) and, for each set, the best curve on the *other*
sets scored on it (leave-one-set-out), averaged over sets.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark.studies.human import RatingSet, agreement
from metrics.base import Evaluation
from metrics.match_distance import LEVEL_WEIGHT, PITCH_CURVE, PitchCurve, match_components
from metrics.pairwise import symmetric

GRID = {  # 288 curves around the shipped one
    "mistune": (1.5, 2.0, 2.7, 3.5),
    "jnd": (3.0, 5.0),
    "cap": (100.0, 130.0, 160.0, 200.0),
    "half": (65.0, 80.0, 100.0),
    "slope": (3.0, 6.0, 10.0),
}
PAIR_FLOOR = 0.90  # every adjacent ladder pair ordered on at least this share of notes
SIDE_FLOOR = 0.95  # the enveloped sine under the enveloped noise on at least this share


@dataclass
class Terms:
    """The terms of ``match_distance`` over many comparisons, each ``[M]``: |level| and timbre (dB),
    pitch interval (cents, NaN without a reading), confidences of target and match (0..1)."""

    level: np.ndarray
    timbre: np.ndarray
    cents: np.ndarray
    q_target: np.ndarray
    q_match: np.ndarray

    @classmethod
    def of(cls, parts: list[dict[str, Any]]) -> Terms:
        def column(key: str, missing: float) -> np.ndarray:
            return np.array([missing if p.get(key) is None else float(p[key]) for p in parts])

        level, timbre = np.abs(column("level_db", 0.0)), column("timbre_db", 0.0)
        confidences = column("pitched_target", 0.0), column("pitched_match", 0.0)
        return cls(level, timbre, column("pitch_cents", np.nan), *confidences)

    def distances(self, curve: PitchCurve) -> np.ndarray:
        pitch = curve.pitch_db(self.cents, self.q_target, self.q_match)
        return LEVEL_WEIGHT * self.level + self.timbre + pitch


def set_terms(s: RatingSet, sample_rate: int) -> tuple[list[tuple[int, int]], Terms]:
    """Every ordered pair (i, j), i != j, of a rating set and its terms (j matched to target i, both
    cut to the shorter)."""
    pairs, parts = [], []
    for i, j in itertools.permutations(range(len(s.sounds)), 2):
        length = min(len(s.sounds[i]), len(s.sounds[j]))
        parts.append(match_components(Evaluation(s.sounds[j][:length], s.sounds[i][:length], sample_rate)))
        pairs.append((i, j))
    return pairs, Terms.of(parts)


@dataclass
class Ladder:
    """A ladder's terms per rung (each ``[notes]``), its chain of rungs nearest first (the first is
    the note itself) and its side pairs (rung, the rung it must beat)."""

    terms: dict[str, Terms]
    chain: tuple[str, ...]
    side: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, notes: list[Any], sample_rate: int, chain: tuple[str, ...],
           side: tuple[tuple[str, str], ...]) -> Ladder:
        """From ``LadderNote`` objects (``rungs``: audio per rung, ``target``: the note)."""
        rungs = list(dict.fromkeys([*chain, *(r for pair in side for r in pair)]))
        terms = {r: Terms.of([match_components(Evaluation(n.rungs[r], n.target, sample_rate)) for n in notes])
                 for r in rungs}  # fmt: skip
        return cls(terms, chain, side)

    def holds(self, curve: PitchCurve) -> bool:
        """Whether ``curve`` keeps every adjacent pair and every side pair above their floors."""
        value = {r: t.distances(curve) for r, t in self.terms.items()}
        value[self.chain[0]] = np.zeros_like(value[self.chain[0]])  # the metric's own shortcut: 0
        pairs = zip(self.chain[:-1], self.chain[1:], strict=True)
        if any(np.mean(value[near] < value[far]) < PAIR_FLOOR for near, far in pairs):
            return False
        return all(np.mean(value[near] < value[far]) >= SIDE_FLOOR for near, far in self.side)


def ladder_holds(ladders: list[Ladder], curve: PitchCurve) -> bool:
    """Whether ``curve`` keeps every ladder."""
    return all(ladder.holds(curve) for ladder in ladders)


def set_figures(terms: dict[str, tuple[list[tuple[int, int]], Terms]], sets: list[RatingSet],
                curve: PitchCurve) -> dict[str, dict[str, float]]:
    """Agreement figures per set of the full distance under ``curve``."""
    out = {}
    for s in sets:
        pairs, t = terms[s.name]
        matrix = np.zeros((len(s.sounds), len(s.sounds)))
        for (i, j), v in zip(pairs, t.distances(curve), strict=True):
            matrix[i, j] = v
        out[s.name] = agreement(symmetric(matrix), s.ratings)
    return out


def _objective(figs: dict[str, dict[str, float]], names: list[str]) -> float:
    return float(np.mean([figs[n]["spearman"] + figs[n]["anchor"] for n in names]))


def _mean(figs: dict[str, dict[str, float]], key: str, names: list[str]) -> float:
    return float(np.mean([figs[n][key] for n in names]))


def grid_curves() -> list[PitchCurve]:
    """Every curve of :data:`GRID`."""
    keys = list(GRID)
    return [PitchCurve(**dict(zip(keys, v, strict=True))) for v in itertools.product(*GRID.values())]


def fit_report(sets: list[RatingSet], values: dict[str, Any], ladders: list[Ladder]) -> str:
    """The shipped, in-sample and leave-one-set-out figures of the pitch curve under ``ladders``,
    as markdown."""
    names = [s.name for s in sets]
    if len(names) < 3:
        return "\nfit=true needs at least 3 rating sets (one is held out at a time).\n"
    sr = values["sample_rate"]
    print(f"choosing match_distance's pitch curve on {len(ladders)} ladder(s) and {len(names)} "
          "sets, leave-one-set-out ...", flush=True)  # fmt: skip
    terms = {s.name: set_terms(s, sr) for s in sets}
    valid = [c for c in grid_curves() if ladder_holds(ladders, c)]
    lines = ["", f"Pitch curve of match_distance: {len(valid)} of {len(grid_curves())} curves keep the "
             f"ladder ({len(ladders)} ladder(s); pairs >= {PAIR_FLOOR:.0%}, sine < noise >= "
             f"{SIDE_FLOOR:.0%}).", ""]  # fmt: skip
    shipped = set_figures(terms, sets, PITCH_CURVE)
    fields = [f.name for f in dataclasses.fields(PitchCurve)]
    lines += ["| curve | Spearman | per-anchor Spearman | ladder holds | " + " | ".join(fields) + " |",
              "|---|---|---|---|" + "---|" * len(fields)]  # fmt: skip

    def row(label: str, figs: dict[str, dict[str, float]], curve: PitchCurve | None, holds: str) -> str:
        cells = " | ".join(f"{getattr(curve, f):g}" if curve else "" for f in fields)
        return (f"| {label} | {_mean(figs, 'spearman', names):.3f} | {_mean(figs, 'anchor', names):.3f} | "
                f"{holds} | {cells} |")  # fmt: skip

    holds = "yes" if ladder_holds(ladders, PITCH_CURVE) else "NO"
    lines.append(row("shipped", shipped, PITCH_CURVE, holds))
    if not valid:
        lines += ["", "No curve of the grid keeps the ladder: nothing to choose from."]
        return "\n".join(lines) + "\n"
    figures = [set_figures(terms, sets, c) for c in valid]
    best = max(range(len(valid)), key=lambda k: _objective(figures[k], names))
    lines.append(row("best on all sets (in-sample)", figures[best], valid[best], "yes"))
    held_out: dict[str, dict[str, float]] = {}
    chosen: dict[str, PitchCurve] = {}
    for name in names:
        others = [n for n in names if n != name]
        k = max(range(len(valid)), key=lambda k: _objective(figures[k], others))
        held_out[name], chosen[name] = figures[k][name], valid[k]
    lines.append(row("leave-one-set-out (chosen per held-out set)", held_out, None, "yes"))
    same = sum(c == PITCH_CURVE for c in chosen.values())
    lines += ["", f"{same} of {len(names)} held-out sets' choices are the shipped curve.", "",
              "| held-out set | Spearman | per-anchor Spearman | chosen curve |",
              "|---|---|---|---|"]  # fmt: skip
    for n in names:
        curve = ", ".join(f"{f} {getattr(chosen[n], f):g}" for f in fields)
        lines.append(f"| {n} | {held_out[n]['spearman']:.3f} | {held_out[n]['anchor']:.3f} | {curve} |")
    return "\n".join(lines) + "\n"
