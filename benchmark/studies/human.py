"""Listening-data study: how well every metric and loss agrees with human dissimilarity ratings.

    python -m benchmark calibrate human=PATH                   # every metric and loss, every set
    python -m benchmark calibrate human=PATH metrics=match_distance losses=none sets=Grey1977

``PATH`` holds one or more *rating sets*: a folder of sounds per set and an
upper-triangular ``<set>_dissimilarity_matrix.txt`` (whitespace-separated, row
and column ``i`` the ``i``-th sound of the folder in sorted file-name order),
anywhere under ``PATH`` (the layout of the public re-analysis by Thoret et al.
2021, ``ext/python/{sounds/<set>/,data/<set>_dissimilarity_matrix.txt}``, and a
flat ``<set>/`` + ``<set>_dissimilarity_matrix.txt`` both work). Rating data is
fetched by the user; nothing is downloaded.

Every pair of a set is scored the way ``score`` does (mono, ``sample_rate``,
both cut to the shorter), in both directions, and the two are averaged. Per set
and distance the study reports, over the upper triangle, Pearson's r and
Spearman's rho with the ratings; the *per-anchor* Spearman (for each sound, how
the distance ranks the others against how listeners rank them, averaged over
sounds); and *triplet agreement* (for each anchor and two others, the fraction
of triplets whose nearer sound the distance and the listeners agree on; ties in
the ratings are left out). Each figure is averaged over sets with a seeded
bootstrap 95% interval over sets. ``mfcc_baseline`` (20 MFCCs averaged over
time, Euclidean distance without c0) is scored in the same run, for scale.

``fit=true`` also re-chooses the constants of ``match_distance``'s timbre term
on the data by leave-one-set-out cross-validation and reports the
cross-validated figure beside the in-sample one (:mod:`benchmark.studies.timbre_fit`).
The command itself is :func:`benchmark.studies.calibrate.human_study`.
Tables go to ``<results_dir>/human.{md,csv}`` and the study is logged to MLflow
(experiment ``calibrate_human``).
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.run.audio import audio_files, load_audio
from losses.base import loss_registry
from metrics.base import Evaluation, metric_registry
from metrics.pairwise import pair_matrix, symmetric
from soundmatch.errors import UserError
from soundmatch.seeding import derive_seed

MATRIX_SUFFIX = "_dissimilarity_matrix.txt"
SKIPPED_METRICS = ("fad", "param_error")  # a whole suite / true parameters: not pairs of sounds
BOOTSTRAP = 2000
FIGURES = ("spearman", "anchor", "pearson", "triplet")


@dataclass
class RatingSet:
    """One listening experiment: ``sounds[i]`` mono at the study's rate, ``ratings[N, N]`` symmetric."""

    name: str
    files: list[str]
    sounds: list[np.ndarray]
    ratings: np.ndarray


@dataclass
class DistanceRow:
    """One distance's agreement with listeners: per set and averaged over sets with intervals."""

    name: str
    kind: str  # metric, loss or baseline
    per_set: dict[str, dict[str, float]] = field(default_factory=dict)  # set -> figure -> value
    mean: dict[str, float] = field(default_factory=dict)
    low: dict[str, float] = field(default_factory=dict)
    high: dict[str, float] = field(default_factory=dict)
    best_in: int = 0
    seconds: float = 0.0
    error: str = ""


def read_rating_sets(root: Path, sample_rate: int, only: list[str] | None = None) -> list[RatingSet]:
    """Every rating set under ``root`` (see the module docstring); a set whose folder is missing or
    whose matrix does not fit its sounds is skipped with one warning line naming it."""
    if not root.is_dir():
        raise UserError(f"calibrate: human={root} is not a folder of rating sets (sounds + *{MATRIX_SUFFIX})")
    matrices = sorted(root.rglob(f"*{MATRIX_SUFFIX}"), key=lambda p: p.name)
    if not matrices:
        raise UserError(
            f"calibrate: no *{MATRIX_SUFFIX} under {root}; a rating set is a folder of sounds <set>/ and "
            f"an upper-triangular <set>{MATRIX_SUFFIX}"
        )
    folders = {p.name: p for p in root.rglob("*") if p.is_dir()}
    sets = []
    for matrix_path in matrices:
        name = matrix_path.name[: -len(MATRIX_SUFFIX)]
        if only and name not in only:
            continue
        folder = folders.get(name)
        if folder is None:
            print(f"calibrate: skipped rating set {name}: no folder {name}/ under {root}", file=sys.stderr)
            continue
        files = audio_files(folder)
        try:
            upper = np.loadtxt(matrix_path, ndmin=2)
        except ValueError as err:
            print(f"calibrate: skipped rating set {name}: {matrix_path.name} is not a matrix ({err})",
                  file=sys.stderr)
            continue
        if upper.shape != (len(files), len(files)) or len(files) < 3:
            print(
                f"calibrate: skipped rating set {name}: its matrix is {upper.shape[0]} x {upper.shape[1]} "
                f"but {folder} holds {len(files)} sounds (at least 3 needed)",
                file=sys.stderr,
            )
            continue
        upper = np.triu(upper, 1)
        sounds = [load_audio(p, sample_rate) for p in files]
        sets.append(RatingSet(name, [p.name for p in files], sounds, upper + upper.T))
    if only:
        missing = sorted(set(only) - {s.name for s in sets})
        if missing:
            raise UserError(f"calibrate: no usable rating set named {missing[0]} under {root}")
    if not sets:
        raise UserError(f"calibrate: no usable rating set under {root} (see the lines above)")
    return sets


def _ranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(x, axis=-1)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else float("nan")


def agreement(distances: np.ndarray, ratings: np.ndarray) -> dict[str, float]:
    """Pearson and Spearman over the upper triangle, mean per-anchor Spearman and triplet agreement
    of a symmetric ``distances[N, N]`` with symmetric ``ratings[N, N]``."""
    n = len(ratings)
    iu = np.triu_indices(n, 1)
    d, r = distances[iu], ratings[iu]
    if not np.all(np.isfinite(d)):
        return dict.fromkeys(FIGURES, float("nan"))
    anchors, triplets = [], []
    others = ~np.eye(n, dtype=bool)
    for i in range(n):
        di, ri = distances[i][others[i]], ratings[i][others[i]]
        anchors.append(_corr(_ranks(di), _ranks(ri)))
        dd = np.sign(di[:, None] - di[None, :])
        rr = np.sign(ri[:, None] - ri[None, :])
        keep = np.triu(rr != 0, 1)
        triplets.append(float((dd[keep] == rr[keep]).mean()) if keep.any() else float("nan"))
    def mean(values: list[float]) -> float:  # NaN where every anchor is undefined (a constant distance)
        finite = [v for v in values if math.isfinite(v)]
        return float(np.mean(finite)) if finite else float("nan")

    return {
        "spearman": _corr(_ranks(d), _ranks(r)),
        "anchor": mean(anchors),
        "pearson": _corr(d, r),
        "triplet": mean(triplets),
    }


def mfcc_baseline(pred: np.ndarray, target: np.ndarray, sample_rate: int) -> float:
    """Euclidean distance of the time-averaged MFCCs 1-19 (librosa: 20 coefficients, 128 mel bands)."""
    import librosa

    def mean_mfcc(audio: np.ndarray) -> np.ndarray:
        n_fft = min(2048, 1 << max(6, int(len(audio)).bit_length() - 1))
        mfcc = librosa.feature.mfcc(y=np.asarray(audio, dtype=np.float32), sr=sample_rate, n_mfcc=20,
                                    n_fft=n_fft, hop_length=n_fft // 4)
        return mfcc[1:].mean(axis=1)

    return float(np.linalg.norm(mean_mfcc(pred) - mean_mfcc(target)))


Scorer = Callable[[np.ndarray, np.ndarray], "float | None"]


def metric_scorer(name: str, sample_rate: int) -> Scorer:
    fn = metric_registry.get(name)
    return lambda pred, target: fn(Evaluation(pred=pred, target=target, sample_rate=sample_rate))


def loss_scorer(name: str, sample_rate: int) -> Scorer:
    loss = loss_registry.create(name, sample_rate=sample_rate)

    def score(pred: np.ndarray, target: np.ndarray) -> float:
        with torch.no_grad():
            p = torch.as_tensor(pred, dtype=torch.float32)[None]
            t = torch.as_tensor(target, dtype=torch.float32)[None]
            return float(loss(p, t)[0])

    return score


def distance_matrices(scorer: Scorer, sets: list[RatingSet]) -> dict[str, np.ndarray]:
    """``{set: symmetric [N, N]}``: each pair scored in both directions, averaged."""
    return {s.name: symmetric(pair_matrix(s.sounds, scorer)) for s in sets}


def bootstrap_interval(values: np.ndarray, seed: int, label: str) -> tuple[float, float]:
    """Seeded 95% bootstrap interval of the mean of ``values`` (resampling sets)."""
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(derive_seed(seed, "human", label))
    means = values[rng.integers(0, len(values), (BOOTSTRAP, len(values)))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high)


def summarise(row: DistanceRow, seed: int) -> None:
    """Fill ``row.mean`` / ``low`` / ``high`` from ``row.per_set``."""
    for fig in FIGURES:
        vals = np.array([v[fig] for v in row.per_set.values()], dtype=float)
        row.mean[fig] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
        row.low[fig], row.high[fig] = bootstrap_interval(vals, seed, f"{row.name}.{fig}")


def study_rows(values: dict[str, Any], sets: list[RatingSet],
               progress: Callable[[DistanceRow], None] | None = None) -> list[DistanceRow]:
    """Every requested metric and loss and the MFCC baseline against every set, best first."""
    rate = values["sample_rate"]
    metric_names = values["metrics"]
    if metric_names == ["all"]:
        metric_names = [m for m in metric_registry.names() if m not in SKIPPED_METRICS
                        and not getattr(metric_registry.get(m), "suite_level", False)]
    loss_names = values["losses"]
    if loss_names in (["all"], ["none"]):
        loss_names = loss_registry.names() if loss_names == ["all"] else []
    for m in metric_names:
        metric_registry.get(m)  # an unknown name is one line with the choices
    for m in loss_names:
        loss_registry.get(m)
    jobs: list[tuple[str, str, Callable[[], Scorer]]] = [
        (m, "metric", lambda m=m: metric_scorer(m, rate)) for m in metric_names
    ] + [(m, "loss", lambda m=m: loss_scorer(m, rate)) for m in loss_names]
    jobs.append(("mfcc_baseline", "baseline", lambda: lambda p, t: mfcc_baseline(p, t, rate)))
    rows = []
    for name, kind, make in jobs:
        start = time.perf_counter()
        row = DistanceRow(name, kind)
        try:
            matrices = distance_matrices(make(), sets)
        except Exception as err:  # a distance that cannot score these sounds is a row, not a crash
            row.error = f"{type(err).__name__}: {err}"
        else:
            row.per_set = {s.name: agreement(matrices[s.name], s.ratings) for s in sets}
            summarise(row, values["seed"])
        row.seconds = time.perf_counter() - start
        rows.append(row)
        if progress is not None:
            progress(row)
    for s in sets:  # which distance agrees best with each set (Spearman over the upper triangle)
        scored = [r for r in rows if not r.error and math.isfinite(r.per_set[s.name]["spearman"])]
        if scored:
            max(scored, key=lambda r: r.per_set[s.name]["spearman"]).best_in += 1
    rows.sort(key=lambda r: (bool(r.error), -np.nan_to_num(r.mean.get("spearman", np.nan), nan=-2.0)))
    return rows


def _ci(row: DistanceRow, fig: str) -> str:
    return f"{row.mean[fig]:.3f} [{row.low[fig]:.3f}, {row.high[fig]:.3f}]"


def markdown(rows: list[DistanceRow], sets: list[RatingSet], values: dict[str, Any]) -> str:
    """The summary table (means over sets with intervals) and the per-set Spearman table."""
    head = ["distance", "kind", "Spearman [95% CI]", "per-anchor Spearman [95% CI]", "Pearson", "triplets",
            "sets best"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if r.error:
            lines.append(f"| {r.name} | {r.kind} | error: {r.error[:80]} |" + " |" * (len(head) - 3))
            continue
        lines.append(f"| {r.name} | {r.kind} | {_ci(r, 'spearman')} | {_ci(r, 'anchor')} | "
                     f"{r.mean['pearson']:.3f} | {r.mean['triplet']:.3f} | {r.best_in} |")
    pairs = sum(len(s.files) * (len(s.files) - 1) // 2 for s in sets)
    lines.append(
        f"\n{len(sets)} rating sets, {pairs} rated pairs, {values['sample_rate']} Hz, both sounds cut to "
        f"the shorter, both directions averaged; seed {values['seed']}. Spearman / Pearson: over each set's "
        "upper triangle; per-anchor: each sound's ranking of the others, averaged over sounds; triplets: "
        "fraction of (anchor, two others) whose nearer sound the distance picks as listeners do. "
        "Means over sets, bootstrap 95% interval over sets. 'sets best': sets on which the row has the "
        "highest Spearman."
    )
    good = [r for r in rows if not r.error]
    lines += ["", "Spearman over the upper triangle, per set:", "",
              "| set | " + " | ".join(r.name for r in good) + " |", "|" + "---|" * (len(good) + 1)]
    for s in sets:
        cells = " | ".join(f"{r.per_set[s.name]['spearman']:.3f}" for r in good)
        lines.append(f"| {s.name} | {cells} |")
    return "\n".join(lines) + "\n"


def write_csv(rows: list[DistanceRow], path: Path) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["distance", "kind", "set", *FIGURES])
        for r in rows:
            for name, figs in r.per_set.items():
                writer.writerow([r.name, r.kind, name, *(f"{figs[f]:.6g}" for f in FIGURES)])
