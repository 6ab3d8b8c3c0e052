"""The ``leaderboard`` command: mean and 95% confidence interval per group, from the store."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from benchmark.tracking import quiet_mlflow, resolve_uri
from soundmatch.errors import UserError

GROUP_COLUMNS = {
    "solver": "tags.soundmatch.solver",
    "synth": "tags.soundmatch.synth",
    "loss": "tags.soundmatch.loss",
    "suite": "tags.soundmatch.suite",
}
DEFAULT_GROUPS = ["suite", "synth", "loss", "solver"]
DEFAULT_METRICS = ["lsd", "mss", "param_error", "renders", "seconds"]


def load_runs(uri: str, experiment: str) -> pd.DataFrame:
    """Finished per-target runs of ``experiment`` as a DataFrame (one row per target run)."""
    from mlflow.tracking import MlflowClient

    quiet_mlflow()

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise UserError(
            f"no experiment '{experiment}' in the store {uri}; run `python -m benchmark run` first"
        )
    import mlflow

    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(
        experiment_ids=[exp.experiment_id],
        filter_string="tags.`soundmatch.level` = 'target' and attributes.status = 'FINISHED'",
        max_results=100000,
        output_format="pandas",
    )
    assert isinstance(runs, pd.DataFrame)
    return runs


def group_column(key: str) -> str:
    """A group-by key (solver, synth, loss, suite, or any config key such as solver.sigma0)."""
    return GROUP_COLUMNS.get(key, f"params.{key}")


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval (nan for n < 2)."""
    values = values[np.isfinite(values)]
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = float(values.mean())
    if n < 2:
        return mean, math.nan
    half = stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / math.sqrt(n)
    return mean, float(half)


def summarize(runs: pd.DataFrame, metrics: list[str], group_by: list[str], rank_by: str) -> pd.DataFrame:
    """One row per group: n, and mean / ci95 of every metric; ranked by ``rank_by`` within suite."""
    cols = [group_column(k) for k in group_by]
    for key, col in zip(group_by, cols, strict=True):
        if col not in runs.columns:
            raise UserError(f"cannot group by '{key}': no run has it (try solver, loss, synth)")
    rows = []
    for keys, frame in runs.groupby(cols, dropna=False):
        row: dict[str, object] = dict(zip(group_by, keys, strict=True))
        row["n"] = len(frame)
        for m in metrics:
            col = f"metrics.{m}"
            vals = frame[col].to_numpy(dtype=float) if col in frame else np.array([])
            row[m], row[f"{m}_ci95"] = mean_ci(vals)
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    within = [k for k in ("suite",) if k in group_by]
    if within:
        table["rank"] = table.groupby(within)[rank_by].rank(method="min")
    else:
        table["rank"] = table[rank_by].rank(method="min")
    order = [*within, "rank"]
    return table.sort_values(order).reset_index(drop=True)


def format_cell(mean: float, half: float) -> str:
    if not math.isfinite(mean):
        return "-"
    if not math.isfinite(half) or half == 0:
        return f"{mean:.4g}"
    return f"{mean:.4g} ± {half:.2g}"


def to_markdown(table: pd.DataFrame, metrics: list[str], group_by: list[str]) -> str:
    head = ["rank", *group_by, "n", *[f"{m} (mean ± 95% CI)" for m in metrics]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        cells = [f"{r['rank']:.0f}", *[str(r[k]) for k in group_by], str(r["n"])]
        cells += [format_cell(r[m], r[f"{m}_ci95"]) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_rich(table: pd.DataFrame, metrics: list[str], group_by: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Table(title="soundmatch leaderboard (mean ± 95% CI over targets)")
    for col in ["rank", *group_by, "n", *metrics]:
        out.add_column(col, justify="right" if col in metrics or col in ("rank", "n") else "left")
    for _, r in table.iterrows():
        cells = [f"{r['rank']:.0f}", *[str(r[k]) for k in group_by], str(r["n"])]
        cells += [format_cell(r[m], r[f"{m}_ci95"]) for m in metrics]
        out.add_row(*cells)
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 160))
    console.print(out)


def leaderboard_cli(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark leaderboard",
        description="Mean and 95%% confidence interval of each metric per group of runs.",
    )
    parser.add_argument("--format", choices=["table", "csv", "markdown"], default="table")
    parser.add_argument("--metric", default="lsd", help="metric to rank by (default lsd)")
    parser.add_argument("--metrics", default=",".join(DEFAULT_METRICS), help="comma list of metrics to show")
    parser.add_argument(
        "--group-by",
        default=",".join(DEFAULT_GROUPS),
        help="comma list: solver, synth, loss, suite, or any config key (e.g. solver.sigma0)",
    )
    parser.add_argument("--tracking-uri", default=None, help="MLflow URI (default: the store)")
    parser.add_argument("--experiment", default="soundmatch")
    parser.add_argument("--results-dir", default="results")
    opts = parser.parse_args(args)
    uri = resolve_uri(opts.tracking_uri, opts.results_dir)
    metrics = [m for m in opts.metrics.split(",") if m]
    if opts.metric not in metrics:
        metrics.insert(0, opts.metric)
    group_by = [g for g in opts.group_by.split(",") if g]
    runs = load_runs(uri, opts.experiment)
    if runs.empty:
        raise UserError(f"no finished runs in experiment '{opts.experiment}' of {uri}")
    table = summarize(runs, metrics, group_by, opts.metric)
    out_dir = Path(opts.results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "leaderboard.csv", index=False)
    markdown = to_markdown(table, metrics, group_by)
    (out_dir / "leaderboard.md").write_text(markdown + "\n")
    if opts.format == "csv":
        print(table.to_csv(index=False), end="")
    elif opts.format == "markdown":
        print(markdown)
    else:
        print_rich(table, metrics, group_by)
    return 0
