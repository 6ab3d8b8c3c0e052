"""The ``leaderboard`` command: normalised scores, intervals, ranks, win rates and curves.

Reads the finished per-target runs of the store (the latest per config hash and
target, so a forced re-run replaces rather than doubles) and prints the table.
Reading writes nothing; with ``out=DIR`` it also writes, into ``DIR``:
``leaderboard.csv``, ``leaderboard.md``, ``winrate.csv``, PNG plots in ``plots/``
(normalised scores, the win-rate "fight" matrix, anytime curves against renders
and seconds, fixed-target ECDFs) and the IOHprofiler export. See
:mod:`benchmark.report.scoring` for the definitions.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.options import (
    Option,
    boolean,
    choice,
    did_you_mean,
    integer,
    parse_command,
    store_options,
    text,
    words,
)
from benchmark.report import scoring
from benchmark.run.tracking import (
    TRAINING_TAG,
    mlflow_client,
    quiet_mlflow,
    require_store,
    resolve_uri,
    with_retry,
)
from metrics.base import DEFAULT_METRIC, VERSION_TAG, metric_registry
from soundmatch.errors import UserError

DEFAULT_GROUPS = ["suite", "synth", "loss", "solver"]
# keys that change the task: runs that differ in one are never pooled in a row
TASK_KEYS = [
    "suite", "suite_hash", "synth", "loss", "budget.renders", "budget.seconds", "duration", "sample_rate",
    "note.pitch",
]  # fmt: skip
DEFAULT_METRICS = [DEFAULT_METRIC, "lsd", "pitch_error_cents", "param_error", "fad", "renders", "seconds"]
# a learned solver's training budget, beside its per-target renders (issue 30's protocol): shown
# with the default metrics wherever a run logged it
TRAINING_METRICS = ("training_renders", "training_seconds")
LEVEL_FILTER = "tags.`soundmatch.level` = '{level}'"
ENDED = ("FINISHED", "FAILED", "KILLED")


def load_runs(
    uri: str, experiment: str, level: str = "target", statuses: tuple[str, ...] = ("FINISHED",)
) -> pd.DataFrame:
    """Runs of ``experiment`` at ``level`` with one of ``statuses`` as a DataFrame, one row per
    run: ``target`` (one per target matched) or ``invocation`` (the parents, holding suite-level
    metrics)."""
    import mlflow

    quiet_mlflow()
    require_store(uri, "leaderboard")
    client = mlflow_client(uri)
    exp = with_retry(lambda: client.get_experiment_by_name(experiment))
    if exp is None:
        raise UserError(
            f"no experiment '{experiment}' in the store {uri}; run `python -m benchmark run` first"
        )
    mlflow.set_tracking_uri(uri)
    runs = with_retry(
        lambda: mlflow.search_runs(
            experiment_ids=[exp.experiment_id],
            filter_string=LEVEL_FILTER.format(level=level),
            max_results=100000,
            output_format="pandas",
        )
    )
    assert isinstance(runs, pd.DataFrame)
    if "status" in runs:
        runs = runs[runs["status"].isin(statuses)]
    return runs


def load_histories(uri: str, run_ids: list[str]) -> dict[str, pd.DataFrame]:
    """Anytime curve of each run: frame of ``renders`` (step), best ``loss``, ``seconds``."""

    client = mlflow_client(uri)
    out: dict[str, pd.DataFrame] = {}
    for run_id in run_ids:
        loss = with_retry(lambda r=run_id: client.get_metric_history(r, "anytime_loss"))
        secs = with_retry(lambda r=run_id: client.get_metric_history(r, "anytime_seconds"))
        by_step = {m.step: m.value for m in secs}
        rows = sorted((m.step, m.value, by_step.get(m.step, math.nan)) for m in loss)
        out[run_id] = pd.DataFrame(rows, columns=["renders", "loss", "seconds"])
    return out


@dataclass
class Leaderboard:
    """Everything the command computes; also what :mod:`benchmark.report.html` renders."""

    uri: str
    runs: pd.DataFrame
    table: pd.DataFrame
    metric: str
    metrics: list[str]
    group_by: list[str]
    versus: str
    wins: pd.DataFrame
    plots: dict[str, Path] = field(default_factory=dict)  # title -> PNG
    notes: list[str] = field(default_factory=list)


def varying(runs: pd.DataFrame, key: str) -> bool:
    """Whether the runs hold more than one value of ``key``."""
    return scoring.has_key(runs, key) and scoring.key_values(runs, [key])[key].nunique() > 1


def comparable_groups(runs: pd.DataFrame, group_by: list[str], explicit: bool) -> tuple[list[str], list[str]]:
    """``group_by`` plus every task key (:data:`TASK_KEYS`) that varies among the runs, so no row
    pools different tasks; the default grouping also splits solvers by the options that vary among
    runs of one solver (nevergrad's optimizer, a budget split ...), as nevergrad's plots do.
    Returns the keys and one line per key added when the grouping was given explicitly."""
    keys = list(group_by)
    added = [k for k in TASK_KEYS if k not in keys and varying(runs, k)]
    if not explicit and "solver" in keys:
        options = sorted(c.removeprefix("params.") for c in runs.columns if c.startswith("params.solver."))
        added += [k for k in options if k not in keys and k not in added and _varies_within_solver(runs, k)]
    keys += added
    notes = []
    if explicit and added:
        notes.append(
            f"split by {', '.join(added)} as well: the runs differ in {'it' if len(added) == 1 else 'them'}, "
            "and pooling them would compare different tasks"
        )
    return keys, notes


def _varies_within_solver(runs: pd.DataFrame, key: str) -> bool:
    values = scoring.key_values(runs, ["solver", key])
    return bool((values.groupby("solver")[key].nunique() > 1).any())


def logged_metrics(runs: pd.DataFrame) -> list[str]:
    """The metrics ``runs`` logged (not the anytime curves), sorted."""
    return sorted(c.removeprefix("metrics.") for c in runs.columns
                  if c.startswith("metrics.") and not c.startswith("metrics.anytime_"))  # fmt: skip


def compute(
    uri: str,
    experiment: str,
    metric: str | None = None,
    metrics: list[str] | None = None,
    group_by: list[str] | None = None,
    versus: str = "solver",
    seed: int = 0,
    config_hashes: set[str] | None = None,
) -> Leaderboard:
    """Load the store and compute the table and the win rates (no files written).
    ``config_hashes``: only the runs of these configs (one sweep's jobs), else every run."""
    chosen = metrics is not None and list(metrics) != DEFAULT_METRICS
    metrics = list(metrics if metrics is not None else DEFAULT_METRICS)
    explicit = group_by is not None
    group_by = list(group_by if group_by is not None else DEFAULT_GROUPS)
    # the latest run of each (config, target): a failure that a resume fixed no longer counts
    ended = scoring.dedupe(load_runs(uri, experiment, statuses=ENDED))
    if config_hashes is not None and "tags.soundmatch.config_hash" in ended:
        ended = ended[ended["tags.soundmatch.config_hash"].isin(config_hashes)]
    finished = ended["status"] == "FINISHED" if "status" in ended else pd.Series(True, index=ended.index)
    runs, failures = ended[finished], ended[~finished]
    if runs.empty:
        raise UserError(f"no finished runs in experiment '{experiment}' of {uri}; run a benchmark first")
    if not chosen:
        metrics += [m for m in TRAINING_METRICS if f"metrics.{m}" in runs.columns and m not in metrics]
    for key in group_by:
        if not scoring.has_key(runs, key):
            raise UserError(f"cannot group by '{key}': no run has it (try solver, loss, synth, seed)")
    if not scoring.has_key(runs, versus):
        raise UserError(f"cannot compare by versus='{versus}': no run has it (try solver, loss, synth)")
    group_by, split_notes = comparable_groups(runs, group_by, explicit)
    if metric is None:  # the default metric ranks, as in every run's and sweep's table; else the loss
        metric = DEFAULT_METRIC if f"metrics.{DEFAULT_METRIC}" in runs.columns else "loss"
    if f"metrics.{metric}" not in runs.columns:
        known = logged_metrics(runs)
        raise UserError(f"no run has metric '{metric}'; metric= takes one of: {', '.join(known)}")
    # the registry is asked only about names no run has and the defaults do not hold (asking imports
    # every metric module: 1.7 s a leaderboard)
    unknown = [m for m in metrics if f"metrics.{m}" not in runs.columns and m not in DEFAULT_METRICS
               and m not in metric_registry]  # fmt: skip
    if unknown:  # a typo would be a silent empty column
        known = logged_metrics(runs)
        raise UserError(f"no run has metric '{unknown[0]}' and none is registered by that name"
                        f"{did_you_mean(unknown[0], known)}; metrics= takes any of: {', '.join(known)}")
    suite_runs = None
    if any(f"metrics.{m}" not in runs.columns for m in metrics):  # suite-level ones (fad) live on parents
        suite_runs = scoring.dedupe_invocations(load_runs(uri, experiment, level="invocation"))
        if config_hashes is not None and "tags.soundmatch.config_hash" in suite_runs:
            suite_runs = suite_runs[suite_runs["tags.soundmatch.config_hash"].isin(config_hashes)]
    table = scoring.summarize(
        runs, metrics, group_by, metric, score_metric=metric, seed=seed, suite_runs=suite_runs,
        failures=failures,
    )
    # the versus key's own options in the grouping (solver.optimizer) tell its competitors apart
    versus_keys = [versus, *[k for k in group_by if k.startswith(f"{versus}.")]]
    wins = scoring.win_rates(runs, metric, versus_keys, context=[k for k in group_by if k not in versus_keys])
    lb = Leaderboard(uri, runs, table, metric, metrics, group_by, versus, wins)
    lb.notes.extend(split_notes)
    if len(failures):
        lb.notes.append(
            f"{len(failures)} target run(s) FAILED or KILLED: counted in 'failed' and the failure rate, "
            "and in the normalised score as no better than random search (score 1); their metrics are missing"
        )
    lb.notes.extend(machine_notes(runs))
    lb.notes.extend(version_notes(runs, [metric, *metrics]))
    lb.notes.extend(training_notes(runs))
    missing = table.attrs.get("unbaselined", 0)
    if missing == len(runs):
        lb.notes.append(
            f"no random baseline: no run of solver=random shares suite, synth, loss, target and budget "
            f"with the runs here, so the normalised score of '{metric}' is undefined; rank is by mean "
            f"'{metric}'. Run the same sweep with solver=random to get scores."
        )
    elif missing:
        lb.notes.append(
            f"{missing} of {len(runs)} runs have no random baseline (no solver=random run with the same "
            "suite, synth, loss, target and budget); their score is left out of the means"
        )
    return lb


MACHINE_KEYS = ("cpu", "cores", "torch_threads", "torch", "device")


def machine_notes(runs: pd.DataFrame) -> list[str]:
    """One line saying on what the ``seconds`` were measured (the runs' machine tags); a warning
    when they come from more than one kind of machine."""
    cols = [f"tags.soundmatch.machine.{k}" for k in MACHINE_KEYS]
    if not all(c in runs for c in cols):
        return []
    kinds = runs[cols].dropna().drop_duplicates()
    names = [
        f"{cpu}, {cores} cores, {threads} torch threads, torch {torch} on {device}"
        for cpu, cores, threads, torch, device in kinds.itertuples(index=False)
    ]
    if not names:
        return []
    if len(names) == 1:
        return [f"seconds measured on: {names[0]}"]
    return [f"seconds come from {len(names)} kinds of machine and are not comparable across them: "
            + "; ".join(names)]  # fmt: skip


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:80] or "all"


def _differing(runs: pd.DataFrame, keys: list[str]) -> list[str]:
    """The group keys whose value differs among ``runs`` (a curve's label need not repeat the rest);
    the solver when none does."""
    return [k for k in keys if varying(runs, k)] or ["solver"]


def write_plots(
    lb: Leaderboard, folder: Path, histories: dict[str, pd.DataFrame] | None = None
) -> dict[str, Path]:
    """PNG figures under ``folder``; returns title -> path (also stored in ``lb.plots``).
    ``histories``: the runs' anytime curves when already loaded (:func:`load_histories`)."""
    from benchmark.report import plots

    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, Path] = {}
    # the bars are labelled by what differs between rows; what all rows share goes in the title
    shared = [k for k in lb.group_by if lb.table[k].astype(str).nunique() == 1] if len(lb.table) > 1 else []
    varying = [k for k in lb.group_by if k not in shared] or list(lb.group_by)
    labels = [" / ".join(str(r[k]) for k in varying) for _, r in lb.table.iterrows()]
    common = "; ".join(f"{k} {lb.table[k].iloc[0]}" for k in shared)
    if np.isfinite(lb.table["score"].astype(float)).any():
        path = folder / "scores.png"
        plots.score_plot(
            lb.table, labels, path,
            f"normalised score of '{lb.metric}', mean and bootstrap 95% CI ({scoring.INTERVAL_METHOD})"
            + (f"; {common}" if common else ""),
        )
        made["normalised scores"] = path
    if len(lb.wins) >= 2:
        path = folder / "fight.png"
        plots.fight_plot(lb.wins, path, f"win rate by '{lb.metric}' ({lb.versus} against {lb.versus})")
        made[f"win rates between {lb.versus}s"] = path
    if histories is None:
        histories = load_histories(lb.uri, list(lb.runs["run_id"]))
    suites = scoring.key_values(lb.runs, ["suite", "loss"])
    curve_keys = [k for k in lb.group_by if k not in ("suite", "loss")] or ["solver"]
    for (suite, loss), idx in suites.groupby(["suite", "loss"]).groups.items():
        runs = lb.runs.loc[idx]
        hist = {r: histories[r] for r in runs["run_id"] if r in histories}
        curves = scoring.anytime_table(runs, hist, _differing(runs, curve_keys))
        if not curves.empty:
            path = folder / f"anytime-{slug(suite)}-{slug(loss)}.png"
            plots.anytime_plot(curves, path, f"anytime: {suite}, {loss} loss")
            made[
                f"anytime curves, {suite}, {loss} loss: best loss so far against renders and seconds, "
                "median and quartiles over runs"
            ] = path
    ecdf_keys = [k for k in lb.group_by if k != "suite"] or ["solver"]
    for suite, idx in suites.groupby("suite").groups.items():
        runs = lb.runs.loc[idx]
        hist = {r: histories[r] for r in runs["run_id"] if r in histories}
        ecdf, what = scoring.ecdf_table(runs, hist, _differing(runs, ecdf_keys))
        if not ecdf.empty:
            path = folder / f"ecdf-{slug(str(suite))}.png"
            fractions = ", ".join(f"{f:g}" for f in scoring.ECDF_FRACTIONS)
            plots.ecdf_plot(ecdf, path, f"fixed-target ECDF, {suite}")
            made[
                f"fixed-target ECDF, {suite}: the fraction of (run, target) pairs reached, targets "
                f"{fractions} x {what}"
            ] = path
    lb.plots = made
    return made


def format_cell(mean: float, half: float) -> str:
    if not math.isfinite(mean):
        return "-"
    if not math.isfinite(half) or half == 0:
        return f"{mean:.4g}"
    return f"{mean:.4g} ± {half:.2g}"


def format_interval(mean: float, lo: float, hi: float) -> str:
    if not math.isfinite(mean):
        return "-"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{mean:.3g}"
    return f"{mean:.3g} [{lo:.3g}, {hi:.3g}]"


def rows(lb: Leaderboard, metrics: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and text cells of the table (shared by Markdown, rich and HTML); ``metrics``: the
    metric columns shown (default: all of ``lb.metrics``)."""
    metrics = lb.metrics if metrics is None else metrics
    head = ["rank", *lb.group_by, "n", "failed", f"score of {lb.metric} [95% CI]", "mean rank"]
    head += [f"{m} (mean ± 95% CI)" for m in metrics]
    out = []
    for _, r in lb.table.iterrows():
        rank = f"{r['rank']:.0f}" if math.isfinite(r["rank"]) else "-"
        mean_rank = f"{r['mean_rank']:.2f}" if math.isfinite(r["mean_rank"]) else "-"
        failed = int(r.get("failed", 0))
        shown = f"{failed} ({100 * failed / r['n']:.0f}%)" if failed else "0"
        cells = [rank, *[str(r[k]) for k in lb.group_by], str(r["n"]), shown]
        cells += [format_interval(r["score"], r["score_lo"], r["score_hi"]), mean_rank]
        cols = [scoring.metric_column(m, lb.group_by) for m in metrics]
        cells += [format_cell(r[c], r[f"{c}_ci95"]) for c in cols]
        out.append(cells)
    return head, out


def to_markdown(lb: Leaderboard) -> str:
    head, body = rows(lb)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    lines += ["", explanation(lb), *[f"Note: {n}" for n in lb.notes]]
    if len(lb.wins):
        lines += ["", f"Win rates ({lb.versus} in the row against the column, by {lb.metric}):", ""]
        names = [str(c) for c in lb.wins.columns]
        lines += ["| | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
        for name, r in lb.wins.iterrows():
            vals = [f"{v:.2f}" if math.isfinite(v) else "-" for v in r.to_numpy(dtype=float)]
            lines.append(f"| {name} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def training_notes(runs: pd.DataFrame) -> list[str]:
    """One line per learned solver naming what its answers came from (the runs'
    ``soundmatch.training.<key>`` tags: checkpoint, corpus) and its training renders; a warning
    when one solver's runs answered from more than one checkpoint or corpus."""
    keys = sorted(c for c in runs.columns if c.startswith(f"tags.{TRAINING_TAG}"))
    if not keys or "tags.soundmatch.solver" not in runs:
        return []
    notes = []
    for solver, group in runs.groupby("tags.soundmatch.solver"):
        named, mixed = [], False
        for column in keys:
            values = sorted(group[column].dropna().astype(str).unique())
            if values:
                named.append(f"{column.removeprefix(f'tags.{TRAINING_TAG}')} {' and '.join(values)}")
                mixed |= len(values) > 1
        if not named:
            continue
        line = f"{solver} answered from " + ", ".join(named)
        if "metrics.training_renders" in group and group["metrics.training_renders"].notna().any():
            line += f" ({int(group['metrics.training_renders'].max())} training renders)"
        if mixed:
            line += ": more than one, so its rows mix trained models"
        notes.append(line)
    return notes


def version_notes(runs: pd.DataFrame, metrics: list[str]) -> list[str]:
    """A warning per metric whose values come from more than one version of its definition (the runs'
    ``soundmatch.metric_version.<name>`` tags; runs from before versions hold version 1): their
    values are not comparable until ``rescore`` brings them to one."""
    notes = []
    for name in dict.fromkeys(metrics):
        column = f"metrics.{name}"
        if column not in runs:
            continue
        scored = runs[runs[column].notna()]
        tag = f"tags.{VERSION_TAG}{name}"
        versions = scored[tag].fillna("1") if tag in scored else pd.Series("1", index=scored.index)
        counts = versions.astype(str).value_counts()
        if len(counts) < 2:
            continue
        ordered = sorted(counts.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0)
        listed = ", ".join(f"version {v} ({n} runs)" for v, n in ordered)
        notes.append(f"'{name}' comes from {len(counts)} versions of its definition across these runs, "
                     f"{listed}, and they are not comparable: `python -m benchmark rescore metrics=[{name}]` "
                     "brings them all to this code's version")  # fmt: skip
    return notes


def explanation(lb: Leaderboard) -> str:
    by = lb.table.attrs.get("ranked_by", lb.metric)
    return (
        f"Score: the run's final '{lb.metric}' divided by random search's mean '{lb.metric}' on the same "
        "suite, synth, loss, target and budget (0 = exact match, 1 = as good as random search); mean "
        f"over targets with a seeded 95% interval ({scoring.INTERVAL_METHOD}). "
        f"Rank: by mean {by} within a suite (or synth); "
        f"mean rank: per-target ranks averaged. {len(lb.runs)} finished target runs."
    )


SHORT_METRICS = ("match_distance", "pitch_error_cents", "seconds")  # the short table's, when present


def print_rich(lb: Leaderboard, title: str = "soundmatch leaderboard", wide: bool = False) -> None:
    """The table on the terminal: by default the short one (the ranking metric, pitch error and
    seconds, at 100 columns or the terminal's width); ``wide``: every metric, 200 columns or more."""
    from rich.console import Console
    from rich.table import Table

    shown = lb.metrics if wide else [m for m in lb.metrics if m == lb.metric or m in SHORT_METRICS][:3]
    head, body = rows(lb, shown)
    left_out = [m for m in lb.metrics if m not in shown]
    caption = explanation(lb)
    if left_out:
        caption += f" Not shown: {', '.join(left_out)} (format=wide shows every metric)."
    if not wide:  # a key every row shares goes into the title; headers lose their "(mean ± 95% CI)"
        same = [i for i, col in enumerate(head) if col in lb.group_by and len({r[i] for r in body}) == 1]
        if len(body) > 1 and same:
            title += "\n" + ", ".join(f"{head[i]} {body[0][i]}" for i in same)
            head = [c for i, c in enumerate(head) if i not in same]
            body = [[c for i, c in enumerate(r) if i not in same] for r in body]
        head = [c.replace(" (mean ± 95% CI)", "").replace(" [95% CI]", "") for c in head]
        caption += " Cells: mean ± 95% interval over targets."
    out = Table(title=title, caption=caption)
    for col in head:
        # group names wrap rather than end in an ellipsis: two suites must never look alike
        out.add_column(col, justify="left" if col in lb.group_by else "right", overflow="fold")
    for cells in body:
        out.add_row(*cells)
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 200 if wide else 100))
    console.print(out)
    for note in lb.notes:
        console.print(f"note: {note}", markup=False)  # notes quote commands: [brackets] are text


SUMMARY = (
    "Normalised scores (0 exact, 1 random search), bootstrap 95% intervals, ranks, win rates, anytime "
    "curves and ECDFs of the finished runs in the store; printed, and written as files only with out=DIR."
)
OPTIONS = (
    Option("metric", text, None, "metric to normalise and rank by (default match_distance, the default "
           "metric, where the runs have it, else loss: each run's final loss; or lsd, param_error ...)"),
    Option("metrics", words, list(DEFAULT_METRICS), "metrics to show, e.g. [lsd,mss]"),
    Option("group_by", words, None, f"keys to group by: solver, synth, loss, suite or any config key "
           f"(default {','.join(DEFAULT_GROUPS)} plus every task key and solver option that varies)"),
    Option("versus", text, "solver", "key whose values the win-rate matrix compares"),
    Option("seed", integer(0), 0, "seed of the bootstrap"),
    Option("out", text, None, "folder to write leaderboard.csv, leaderboard.md, winrate.csv, plots/ and "
           "iohprofiler/ into (without it nothing is written)"),
    Option("plots", boolean, True, "with out=: also write the PNG plots and the IOHprofiler export"),
    Option("format", choice("table", "wide", "csv", "markdown"), "table",
           "table (the short one: ranking metric, pitch, time), wide (every metric), csv or markdown"),
    *store_options(),
)  # fmt: skip


def from_options(values: dict[str, Any]) -> Leaderboard:
    uri = resolve_uri(values["tracking.uri"], values["results_dir"])
    return compute(
        uri,
        values["tracking.experiment"],
        metric=values["metric"],
        metrics=list(values["metrics"]),
        group_by=values["group_by"],
        versus=values["versus"],
        seed=values["seed"],
    )


def leaderboard_cli(args: list[str]) -> int:
    values = parse_command(args, OPTIONS, "leaderboard", SUMMARY)
    if values is None:
        return 0
    lb = from_options(values)
    if values["format"] == "csv":
        print(lb.table.to_csv(index=False), end="")
    elif values["format"] == "markdown":
        print(to_markdown(lb))
    else:
        print_rich(lb, wide=values["format"] == "wide")
    if values["out"] is not None:
        written = write_files(lb, Path(values["out"]), plots=bool(values["plots"]))
        # the listing goes where it does not mix with a csv or markdown table piped elsewhere
        stream = sys.stdout if values["format"] in ("table", "wide") else sys.stderr
        print(f"wrote {', '.join(written)} under {values['out']}/", file=stream)
    return 0


def write_files(lb: Leaderboard, out_dir: Path, plots: bool = True) -> list[str]:
    """``leaderboard.csv``, ``leaderboard.md``, ``winrate.csv`` and, with ``plots``, the PNG plots
    and the IOHprofiler export, into ``out_dir`` (created); what was written, relative to it."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot write the leaderboard into out={out_dir}: {err.strerror}; "
                        f"choose a folder you can write to") from None
    lb.table.to_csv(out_dir / "leaderboard.csv", index=False)
    lb.wins.to_csv(out_dir / "winrate.csv")
    (out_dir / "leaderboard.md").write_text(to_markdown(lb) + "\n")
    written = ["leaderboard.csv", "leaderboard.md", "winrate.csv"]
    if plots:
        from benchmark.report.ioh_export import write_iohprofiler

        histories = load_histories(lb.uri, list(lb.runs["run_id"]))
        write_plots(lb, out_dir / "plots", histories)
        ioh = write_iohprofiler(lb.runs, histories, lb.group_by, out_dir / "iohprofiler")
        written += [str(p.relative_to(out_dir)) for p in lb.plots.values()]
        if ioh:
            written.append(f"iohprofiler/ ({len(ioh)} .info files, for IOHanalyzer)")
    return written


def print_sweep_summary(cfg: Any, config_hashes: set[str]) -> None:
    """One leaderboard of the sweep's jobs (resumed ones included) after their per-job tables."""
    from metrics.base import metric_registry

    names = [str(m) for m in cfg.metrics]
    per_match = [m for m in names if not getattr(metric_registry.get(m), "suite_level", False)]
    try:
        lb = compute(
            resolve_uri(cfg.tracking.uri, cfg.results_dir),
            str(cfg.tracking.experiment),
            metric=per_match[0] if per_match else "loss",
            metrics=[*names, "renders", "seconds"],
            seed=int(cfg.seed),
            config_hashes=config_hashes,
        )
    except UserError as err:  # e.g. every job failed: the failure lines below say why
        print(f"no combined table: {err}")
        return
    print_rich(lb, title=f"this sweep: {len(config_hashes)} jobs, every target run")
