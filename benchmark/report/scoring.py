"""Leaderboard statistics on a table of finished per-target runs (one row per run).

Everything here is pure pandas/numpy on the frame :func:`benchmark.report.leaderboard.load_runs`
returns (columns ``metrics.*``, ``params.*``, ``tags.*``), so it is tested without a store.

* normalised score (Bayesmark): ``score = (value - optimum) / (random - optimum)`` per run,
  with optimum 0 (every soundmatch metric and loss is a distance, 0 = exact match) and
  ``random`` the mean of the same metric over the random solver's runs on the same suite,
  synth, loss, target and budget; 0 = exact, 1 = as good as random search, > 1 worse;
* bootstrap 95% intervals of group means (percentile method, seeded);
* ranks: of the groups' mean score (or metric) within a suite (or synth), and mean per-target ranks;
* win rates between the values of one key (nevergrad's "fight" matrix), and which values are
  separable from the best (paired Wilcoxon over targets, Holm-corrected);
* anytime curves and fixed-target ECDFs (COCO) from the runs' ``anytime_loss`` histories.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

GROUP_COLUMNS = {
    "solver": "tags.soundmatch.solver",
    # the synth config the user chose (dx7_flute), else (runs before that tag) the synth's name
    "synth": "tags.soundmatch.synth_config",
    "loss": "tags.soundmatch.loss",
    "suite": "tags.soundmatch.suite",
    "suite_hash": "tags.soundmatch.suite_hash",  # the suite's content hash (its name is readable)
    "target": "tags.soundmatch.target",
}
BASELINE_SOLVER = "random"
# what must match for a random-search run to be another run's baseline
BASELINE_KEYS = ["suite", "suite_hash", "synth", "loss", "target", "budget.renders", "budget.seconds"]
# fixed targets of the ECDFs: fractions of the reference loss (random search's final loss)
ECDF_FRACTIONS = (1.0, 0.5, 0.25, 0.1, 0.05, 0.025, 0.01)


FALLBACK_COLUMNS = {"tags.soundmatch.synth_config": "tags.soundmatch.synth"}


def group_column(key: str) -> str:
    """The column of a group-by key: solver, synth, loss, suite, target, or any config key."""
    return GROUP_COLUMNS.get(key, f"params.{key}")


def has_key(runs: pd.DataFrame, key: str) -> bool:
    """Whether any column of ``runs`` holds the group-by ``key``."""
    col = group_column(key)
    return col in runs or FALLBACK_COLUMNS.get(col) in runs


def key_values(runs: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """The columns of ``keys`` as strings (missing columns read as '-'), named by key."""
    out = pd.DataFrame(index=runs.index)
    for key in keys:
        col = group_column(key)
        values = runs[col] if col in runs else pd.Series(np.nan, index=runs.index, dtype=object)
        fallback = FALLBACK_COLUMNS.get(col)
        if fallback in runs:
            values = values.where(values.notna(), runs[fallback])
        out[key] = values.where(values.notna(), "-").astype(str)
    return out


def joined(frame: pd.DataFrame, sep: str) -> pd.Series:
    """Each row's string columns joined by ``sep`` (vectorised; a row-wise apply is 100x slower)."""
    out = pd.Series("", index=frame.index, dtype=object)
    for i, col in enumerate(frame.columns):
        out = frame[col].astype(str) if i == 0 else out + sep + frame[col].astype(str)
    return out


def dedupe(runs: pd.DataFrame) -> pd.DataFrame:
    """The latest finished run per (config hash, target): a forced re-run replaces, never doubles."""
    keys = ["tags.soundmatch.config_hash", "tags.soundmatch.target"]
    if runs.empty or any(k not in runs for k in keys):
        return runs
    ordered = runs.sort_values("start_time") if "start_time" in runs else runs
    return ordered.drop_duplicates(subset=keys, keep="last").sort_index()


def dedupe_invocations(invocations: pd.DataFrame) -> pd.DataFrame:
    """One finished invocation (parent run) per config hash: the one whose suite-level metrics
    cover the most targets (``suite_metric_targets``; a resumed invocation covers only those it
    ran), the latest among equals."""
    key = "tags.soundmatch.config_hash"
    if invocations.empty or key not in invocations:
        return invocations
    covered = invocations.get("metrics.suite_metric_targets", pd.Series(np.nan, invocations.index))
    frame = invocations.assign(_covered=pd.to_numeric(covered, errors="coerce"))
    order = ["_covered", "start_time"] if "start_time" in frame else ["_covered"]
    frame = frame.sort_values(order, na_position="first")
    return frame.drop_duplicates(subset=[key], keep="last").drop(columns="_covered").sort_index()


def normalised_scores(runs: pd.DataFrame, metric: str) -> tuple[pd.Series, pd.Series]:
    """Per run: (score, random-search baseline), NaN where no random baseline exists.

    ``metric`` is a column suffix (``loss`` = the run's final value of the loss it
    optimised). The baseline is the mean of the random solver's ``metric`` over its
    runs (seeds) on the same :data:`BASELINE_KEYS`.
    """
    col = f"metrics.{metric}"
    values = pd.to_numeric(runs[col], errors="coerce") if col in runs else pd.Series(np.nan, runs.index)
    keys = key_values(runs, BASELINE_KEYS)
    solver = key_values(runs, ["solver"])["solver"]
    ident = joined(keys, "\x1f")
    is_random = solver == BASELINE_SOLVER
    base_by_key = values[is_random].groupby(ident[is_random]).mean()
    baseline = ident.map(base_by_key).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = values / baseline.where(baseline > 0)
    return score.astype(float), baseline


def metric_column(metric: str, group_by: Sequence[str]) -> str:
    """The table column of a metric: its name, or ``metric.<name>`` where a group key has it
    (the metric ``loss`` beside the group key ``loss``)."""
    return f"metric.{metric}" if metric in group_by else metric


INTERVAL_METHOD = "two-stage percentile bootstrap: targets, then seeds within a target"


def bootstrap_ci(
    values: np.ndarray,
    seed: int = 0,
    resamples: int = 2000,
    level: float = 0.95,
    clusters: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap interval ``(mean, lo, hi)``; nan bounds for n < 2.

    With ``clusters`` (one label per value, e.g. the target of each run) the
    resampling is two-stage: targets with replacement, then each drawn target's
    runs (its seeds) with replacement, and the statistic is the mean over
    targets of their mean -- 8 targets x 3 seeds are not 24 independent draws.
    """
    values = np.asarray(values, dtype=float)
    if clusters is not None:
        keep = np.isfinite(values)
        groups = pd.Series(values[keep]).groupby(np.asarray(clusters)[keep])
        parts = [np.sort(g.to_numpy()) for _, g in sorted(groups, key=lambda kv: str(kv[0]))]
        if len(parts) > 1 and any(len(p) < len(values[keep]) for p in parts):
            return _two_stage(parts, seed, resamples, level)
    values = np.sort(values[np.isfinite(values)])  # sorted: the interval must not depend on store order
    if len(values) == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan, math.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(resamples, len(values)))
    means = values[idx].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return mean, float(lo), float(hi)


def _two_stage(
    parts: list[np.ndarray], seed: int, resamples: int, level: float
) -> tuple[float, float, float]:
    """Mean of cluster means and its two-stage bootstrap interval (see :func:`bootstrap_ci`)."""
    rng = np.random.default_rng(seed)
    # each cluster's own bootstrap means, one per replicate: [clusters, resamples]
    inner = np.stack([p[rng.integers(0, len(p), size=(resamples, len(p)))].mean(axis=1) for p in parts])
    pick = rng.integers(0, len(parts), size=(resamples, len(parts)))
    stats = inner[pick, np.arange(resamples)[:, None]].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(stats, [alpha, 1 - alpha])
    return float(np.mean([p.mean() for p in parts])), float(lo), float(hi)


def mean_ranks(runs: pd.DataFrame, values: pd.Series, group_by: Sequence[str]) -> pd.Series:
    """Mean over (suite, target) of each group's rank (1 = best mean value on that target)."""
    groups = key_values(runs, group_by)
    label = joined(groups, "\x1f")
    where = key_values(runs, ["suite", "target"])
    frame = pd.DataFrame({"g": label, "s": where["suite"], "t": where["target"], "v": values})
    frame = frame[np.isfinite(frame["v"].astype(float))]
    if frame.empty:
        return pd.Series(dtype=float)
    per_target = frame.groupby(["s", "t", "g"])["v"].mean().reset_index()
    per_target["rank"] = per_target.groupby(["s", "t"])["v"].rank(method="average")
    return per_target.groupby("g")["rank"].mean()


def summarize(
    runs: pd.DataFrame,
    metrics: Sequence[str],
    group_by: Sequence[str],
    rank_by: str,
    score_metric: str = "loss",
    seed: int = 0,
    suite_runs: pd.DataFrame | None = None,
    failures: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per group: n; normalised score of ``score_metric`` with its bootstrap interval;
    mean, interval and half-width (``_ci95``) of every metric; ranks.

    ``failures`` (FAILED or KILLED target runs) count in ``n``, in ``failed`` and
    ``failure_rate``, and in the score as 1 (no better than random search); their
    metrics are missing, so the metric means are over finished runs.

    A metric that the target runs lack is read from ``suite_runs`` (the invocations, one
    per config, see :func:`dedupe_invocations`) when given: a suite-level metric such as
    FAD, whose mean and interval are over the group's invocations (e.g. its seeds).

    ``rank`` orders groups within a suite (or a synth, when grouped by synth but not
    suite) by mean score when any group has one,
    else by ``rank_by``; ``mean_rank`` is the mean of per-target ranks by score
    (or ``rank_by``).
    """
    if runs.empty:
        return pd.DataFrame()
    failed_mask = pd.Series(False, index=runs.index)
    if failures is not None and not failures.empty:
        runs = pd.concat([runs, failures], ignore_index=True)
        failed_mask = pd.Series([False] * (len(runs) - len(failures)) + [True] * len(failures))
    score, baseline = normalised_scores(runs, score_metric)
    score = score.where(~failed_mask, 1.0)
    keys = key_values(runs, group_by)
    label = joined(keys, "\x1f")
    per_suite: dict[str, pd.Series] = {}  # metric -> its values on the invocations, indexed by label
    if suite_runs is not None and not suite_runs.empty:
        suite_label = joined(key_values(suite_runs, group_by), "\x1f")
        for m in metrics:
            col = f"metrics.{m}"
            if col not in runs and col in suite_runs:
                values = pd.to_numeric(suite_runs[col], errors="coerce")
                per_suite[m] = pd.Series(values.to_numpy(dtype=float), index=suite_label.to_numpy())
    rows = []
    targets = key_values(runs, ["target"])["target"] if "target" not in group_by else None
    for lab, idx in label.groupby(label).groups.items():
        frame = runs.loc[idx]
        clusters = None if targets is None else targets.loc[idx].to_numpy()
        row: dict[str, object] = dict(zip(group_by, str(lab).split("\x1f"), strict=True))
        row["n"] = len(frame)
        row["failed"] = int(failed_mask.loc[idx].sum())
        row["failure_rate"] = row["failed"] / len(frame)
        for m in metrics:
            col = f"metrics.{m}"
            if m in per_suite:
                vals = per_suite[m][per_suite[m].index == lab].to_numpy(dtype=float)
            elif col in frame:
                vals = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
            else:
                vals = np.array([])
            per_run = m not in per_suite and col in frame  # suite-level values have no target
            mean, lo, hi = bootstrap_ci(
                np.asarray(vals, dtype=float), seed, clusters=clusters if per_run else None
            )
            name = metric_column(m, group_by)
            row[name], row[f"{name}_ci95"] = mean, (hi - lo) / 2 if math.isfinite(lo) else math.nan
            row[f"{name}_lo"], row[f"{name}_hi"] = lo, hi
        s = score.loc[idx].to_numpy(dtype=float)
        row["score"], row["score_lo"], row["score_hi"] = bootstrap_ci(s, seed, clusters=clusters)
        row["baselined"] = int(np.isfinite(s).sum())
        row["_label"] = lab
        rows.append(row)
    table = pd.DataFrame(rows)
    by = "score" if np.isfinite(table["score"].astype(float)).any() else rank_by
    if by == "score":
        rank_values = score
    else:
        col = f"metrics.{rank_by}"
        rank_values = (
            pd.to_numeric(runs[col], errors="coerce") if col in runs else pd.Series(np.nan, runs.index)
        )
        by = metric_column(rank_by, group_by)  # never the group key of the same name ('loss')
        if by not in table:
            table[by] = table["_label"].map(rank_values.groupby(label).mean())
    table["mean_rank"] = table["_label"].map(mean_ranks(runs, rank_values, group_by))
    # ranks restart per suite; grouped by synth but not suite, per synth (its suites)
    within = [k for k in ("suite",) if k in group_by] or [k for k in ("synth",) if k in group_by]
    ranked = table[by].astype(float)
    if within:
        table["rank"] = ranked.groupby([table[k] for k in within]).rank(method="min")
    else:
        table["rank"] = ranked.rank(method="min")
    table.attrs["ranked_by"] = by
    table.attrs["score_metric"] = score_metric
    table.attrs["unbaselined"] = int((~np.isfinite(score.to_numpy(dtype=float))).sum())
    table.attrs["runs"] = len(runs)
    order = [*within, "rank", *[k for k in group_by if k not in within]]
    return table.drop(columns="_label").sort_values(order, na_position="last").reset_index(drop=True)


MATCH_KEYS = ("suite", "synth", "loss", "target", "seed", "budget.renders", "budget.seconds")


def paired_cells(
    runs: pd.DataFrame, metric: str, versus: Sequence[str], match_keys: Sequence[str]
) -> pd.DataFrame:
    """``metric`` per match (rows: the values of ``match_keys``) and competitor (columns: the values
    of ``versus`` together, "ng TwoPointsDE"; a key a run lacks is left out). Several runs of one
    competitor in one match (keys grouped away, e.g. seeds) give their mean; NaN where it did not run."""
    col = f"metrics.{metric}"
    if col not in runs:
        return pd.DataFrame()
    frame = key_values(runs, match_keys)
    label = pd.Series("", index=runs.index, dtype=object)
    for _, values in key_values(runs, versus).items():
        label = (label + " " + values.where(values != "-", "")).str.strip()
    frame["_versus"] = label.where(label != "", "-")
    frame["v"] = pd.to_numeric(runs[col], errors="coerce")
    frame = frame[np.isfinite(frame["v"])]
    return frame.groupby([*match_keys, "_versus"])["v"].mean().unstack("_versus")


def _match_keys(versus: Sequence[str], context: Sequence[str], base: Sequence[str] = MATCH_KEYS) -> list[str]:
    return [k for k in dict.fromkeys([*base, *context]) if k not in versus]


def win_rates(
    runs: pd.DataFrame, metric: str, versus: str | Sequence[str] = "solver", context: Sequence[str] = ()
) -> pd.DataFrame:
    """Fraction of matches each ``versus`` value (row) wins against another (column).

    A match is a pair of runs equal in every ``context`` key and in suite, synth,
    loss, target, seed and budget, different in ``versus``; the lower ``metric``
    wins, a tie counts one half. NaN where two values never met. ``versus`` may
    be several keys (``["solver", "solver.optimizer"]``): a competitor is then
    their values together ("ng TwoPointsDE"; a key a run lacks is left out).
    """
    versus_keys = [versus] if isinstance(versus, str) else list(versus)
    cell = paired_cells(runs, metric, versus_keys, _match_keys(versus_keys, context))
    if cell.empty:
        return pd.DataFrame()
    names = sorted(cell.columns)
    wins = pd.DataFrame(np.nan, index=names, columns=names)
    for a in names:
        for b in names:
            if a == b:
                continue
            both = cell[[a, b]].dropna()
            if len(both):
                va, vb = both[a].to_numpy(), both[b].to_numpy()
                wins.loc[a, b] = float(((va < vb) + 0.5 * (va == vb)).mean())
    order = wins.mean(axis=1).sort_values(ascending=False).index
    return wins.loc[order, order]


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the input's order."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def separable_from_best(
    runs: pd.DataFrame, metric: str, versus: str = "solver", context: Sequence[str] = (), alpha: float = 0.05
) -> pd.DataFrame:
    """Which competitors are separable from the best one, per ``context`` group (e.g. bench task).

    The unit is the target: each competitor's ``metric`` is averaged over its seeds per target.
    The best is the lowest mean over its targets. Every other competitor is compared with it by
    a two-sided Wilcoxon signed-rank test over the targets both ran (``scipy.stats.wilcoxon``;
    all differences zero reads p = 1), and the p-values of one group are Holm-corrected over its
    competitors. Columns: the ``context`` keys, ``versus``, ``targets`` (paired with the best),
    ``mean``, ``best`` (bool), ``p``, ``p_holm`` and ``separable`` (p_holm < alpha; False for the best).
    """
    from scipy.stats import wilcoxon

    base = [k for k in MATCH_KEYS if k != "seed"]
    cell = paired_cells(runs, metric, [versus], _match_keys([versus], context, base))
    rows: list[dict] = []
    if cell.empty:
        return pd.DataFrame(rows)
    groups = cell.groupby(level=list(context)) if context else [((), cell)]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        group = group.dropna(axis=1, how="all")
        means = group.mean()
        best = str(means.idxmin())
        found = []
        for name in means.index:
            both = group[[best, name]].dropna()
            diff = (both[name] - both[best]).to_numpy()
            if name == best or not np.any(diff):
                p = 1.0
            else:
                p = float(wilcoxon(diff).pvalue)
            found.append({**dict(zip(context, key, strict=True)), versus: str(name), "targets": len(both),
                          "mean": float(means[name]), "best": name == best, "p": p})  # fmt: skip
        others = [r for r in found if not r["best"]]
        for r, adjusted in zip(others, holm([r["p"] for r in others]), strict=True):
            r["p_holm"] = float(adjusted)
        for r in found:
            r.setdefault("p_holm", 1.0)
            r["separable"] = bool(not r["best"] and r["p_holm"] < alpha)
        rows.extend(found)
    return pd.DataFrame(rows)


def step_curve(steps: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A best-so-far step function sampled on ``grid`` (NaN before its first step)."""
    order = np.argsort(steps)
    steps, values = steps[order], values[order]
    pos = np.searchsorted(steps, grid, side="right") - 1
    out = np.where(pos >= 0, values[np.clip(pos, 0, None)], np.nan)
    return out


def anytime_table(
    runs: pd.DataFrame, histories: dict[str, pd.DataFrame], group_by: Sequence[str], points: int = 60
) -> pd.DataFrame:
    """Median and quartiles of best loss per group on a log grid of renders and of seconds.

    ``histories`` maps run id -> frame with columns ``renders``, ``loss``, ``seconds``.
    Rows: group label, axis ('renders' or 'seconds'), x, median, q25, q75, runs.
    """
    keys = key_values(runs, group_by)
    label = joined(keys, " / ")
    out = []
    for axis in ("renders", "seconds"):
        xs = [h[axis].to_numpy(dtype=float) for h in histories.values() if len(h)]
        xs = [x[x > 0] for x in xs]
        xs = [x for x in xs if len(x)]
        if not xs:
            continue
        lo, hi = min(x.min() for x in xs), max(x.max() for x in xs)
        grid = np.geomspace(lo, hi, points) if hi > lo else np.array([lo])
        grid[0], grid[-1] = lo, hi  # exactly: a run whose only evaluation is at the end shows
        for lab, idx in label.groupby(label).groups.items():
            curves = []
            for run_id in runs.loc[idx, "run_id"]:
                h = histories.get(run_id)
                if h is None or not len(h):
                    continue
                curves.append(step_curve(h[axis].to_numpy(float), h["loss"].to_numpy(float), grid))
            if not curves:
                continue
            stack = np.vstack(curves)
            started = np.isfinite(stack).sum(0)
            # before its first evaluation a run's best loss is +inf; quartiles are the midpoint of the
            # two order statistics around them (so the median of two runs lies halfway between them),
            # non-increasing like every curve, and inf until enough runs started
            stack = np.where(np.isnan(stack), np.inf, stack)
            with np.errstate(invalid="ignore"):
                q25, med, q75 = np.quantile(stack, [0.25, 0.5, 0.75], axis=0, method="midpoint")
            for x, m, a, b, n in zip(grid, med, q25, q75, started, strict=True):
                if not np.isfinite(a):
                    continue
                out.append(
                    {"group": lab, "axis": axis, "x": x, "median": m, "q25": a, "q75": b, "runs": int(n)}
                )
    return pd.DataFrame(out)


def target_identity(runs: pd.DataFrame) -> pd.Series:
    """Per run, one string naming the target it matched in its task (every baseline key but the
    budget): runs of any budget on the same target share it."""
    return joined(key_values(runs, [k for k in BASELINE_KEYS if not k.startswith("budget")]), "\x1f")


def reference_losses(runs: pd.DataFrame, histories: dict[str, pd.DataFrame]) -> tuple[pd.Series, str]:
    """Per run, the loss its fixed targets are fractions of, and what that reference is.

    The random solver's mean final ``loss`` at the same suite, synth, loss, target and
    budget; where no random baseline exists, the median first loss any run recorded
    on that target (the loss of a random guess).
    """
    _, baseline = normalised_scores(runs, "loss")
    if np.isfinite(baseline.to_numpy(dtype=float)).all():
        return baseline, "random search's final loss"
    ident = target_identity(runs)
    first = pd.Series(
        [histories[r]["loss"].iloc[0] if len(histories.get(r, ())) else np.nan for r in runs["run_id"]],
        index=runs.index,
    )
    fallback = ident.map(first.groupby(ident).median())
    return baseline.fillna(fallback), "random search's final loss (else the median first loss)"


def ecdf_table(
    runs: pd.DataFrame,
    histories: dict[str, pd.DataFrame],
    group_by: Sequence[str],
    fractions: Sequence[float] = ECDF_FRACTIONS,
    points: int = 60,
) -> tuple[pd.DataFrame, str]:
    """COCO-style fixed-target ECDF: per group, the fraction of (run, target) pairs reached
    after x renders.

    The fixed targets of one suite target sit between its reference loss (1, see
    :func:`reference_losses`) and the best loss any selected run reached on it
    (0, the best known, as COCO's targets are set from the best known value):
    ``best + f * (reference - best)`` for each of ``fractions``. So the curves
    spread over the runs' actual range whatever the loss's scale, with or
    without a random baseline.
    """
    ref, what = reference_losses(runs, histories)
    keys = key_values(runs, group_by)
    label = joined(keys, " / ")
    steps = [h["renders"].to_numpy(float) for h in histories.values() if len(h)]
    if not steps:
        return pd.DataFrame(), what
    ident = target_identity(runs)
    best_run = pd.Series(
        [histories[r]["loss"].min() if len(histories.get(r, ())) else np.nan for r in runs["run_id"]],
        index=runs.index,
    )
    best = ident.map(best_run.groupby(ident).min())
    hi = max(s.max() for s in steps)
    grid = np.unique(np.geomspace(1, max(hi, 1), points).round())
    out = []
    for lab, idx in label.groupby(label).groups.items():
        hits = []  # renders at which each (run, fraction) target was first reached (inf: never)
        for i in idx:
            h = histories.get(runs.at[i, "run_id"])
            r, b = ref.at[i], best.at[i]
            if h is None or not len(h) or not (np.isfinite(r) and np.isfinite(b)) or r <= b:
                continue
            renders, losses = h["renders"].to_numpy(float), h["loss"].to_numpy(float)
            for f in fractions:
                reached = np.nonzero(losses <= b + f * (r - b))[0]
                hits.append(renders[reached[0]] if len(reached) else np.inf)
        if not hits:
            continue
        hits_arr = np.asarray(hits)
        for x in grid:
            out.append({"group": lab, "renders": x, "fraction": float((hits_arr <= x).mean())})
    return pd.DataFrame(out), f"the way from {what} (1) to the best loss any run reached (0)"
