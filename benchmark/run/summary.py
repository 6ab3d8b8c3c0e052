"""The table printed at the end of ``run``."""

from __future__ import annotations

from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from benchmark.run.identity import synth_config_name
from benchmark.run.runner import RunOutcome
from metrics.base import DEFAULT_METRIC


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.4g}"


def job_overrides() -> str:
    """This job's command-line overrides (``solver.optimizer=PSO seed=1``), or '' outside Hydra."""
    try:
        from hydra.core.hydra_config import HydraConfig

        task = HydraConfig.get().overrides.task
    except (ImportError, ValueError):
        return ""
    shown = [o for o in task if not o.startswith(("hydra.", "progress=", "results_dir=", "tracking."))]
    return " ".join(shown)


def print_summary(cfg: DictConfig, outcome: RunOutcome) -> None:
    if outcome.skipped:
        return  # the runner said so in one line
    console = Console()
    if not console.is_terminal:  # logs and pipes: 100 columns, the columns that fit
        console = Console(width=max(console.width, 100))
    per_target = [str(m) for m in cfg.metrics if str(m) not in outcome.suite_metrics]
    names = max((len(t.target) for t in outcome.targets), default=6)
    keys, left_out = summary_columns(per_target, outcome, console.width - max(names, 6) - 4)
    synth = synth_config_name(cfg)  # the preset chosen, e.g. dx7_flute
    title = f"{cfg.solver.name} on {synth} ({cfg.loss.name} loss), suite {outcome.suite}"
    options = job_overrides()
    if options:  # the jobs of a sweep differ in these: say which one this is
        from rich.markup import escape

        title += f"\n{escape(options)}"
    table = Table(title=title)
    table.add_column("target")
    for k in keys:
        table.add_column(k, justify="right")
    for t in outcome.targets:
        table.add_row(t.target, *(fmt(t.metrics.get(k)) for k in keys))
    means = []
    for k in keys:
        vals = [t.metrics[k] for t in outcome.targets if t.metrics.get(k) is not None]
        means.append(fmt(sum(vals) / len(vals)) if vals else "-")  # type: ignore[arg-type]
    table.add_section()
    table.add_row("mean", *means, style="bold")
    console.print(table)
    if left_out:
        console.print(
            f"{len(left_out)} more metric(s) per target did not fit {console.width} columns "
            f"({', '.join(left_out)}): `python -m benchmark leaderboard format=wide`, or a wider terminal"
        )
    if outcome.suite_metrics:
        console.print(f"over the whole suite: {suite_line(outcome.suite_metrics, fmt)}")
    console.print(
        f"results: {outcome.tracking_uri} (experiment '{outcome.experiment}', "
        f"run {outcome.parent_run_id}); compare with `python -m benchmark leaderboard`"
    )


FIRST = ("pitch_error_cents", "loss", "dexed_lsd", "seconds", "renders")  # then these, as they fit


def summary_columns(metrics: list[str], outcome: RunOutcome, width: int) -> tuple[list[str], list[str]]:
    """The columns of the run's table, most telling first, as many as fit ``width`` characters: the
    ranking metric (``match_distance`` when computed, else the first metric), pitch error, loss, the
    Dexed check, seconds, renders, then the other metrics in the config's order; and those left out."""
    present = {k for t in outcome.targets for k, v in t.metrics.items() if v is not None}
    ranking = DEFAULT_METRIC if DEFAULT_METRIC in metrics else (metrics[0] if metrics else "loss")
    order = [ranking, *[k for k in FIRST if k != ranking], *[m for m in metrics if m not in FIRST]]
    order = [k for i, k in enumerate(order) if k in present and k not in order[:i]]
    shown: list[str] = []
    used = 0
    for key in order:
        cell = max(len(key), 7) + 3  # a column's text and rich's padding and border
        if shown and used + cell > width:
            break
        shown.append(key)
        used += cell
    return shown, [k for k in order if k not in shown]


def suite_line(values: dict[str, float | None], fmt) -> str:
    """``fad 0.94 [0.80, 1.10], suite_metric_targets 8``: a value with its ``_low``/``_high``
    interval is printed with the digits the interval supports."""
    from metrics.fad import significant

    parts = []
    for key, value in values.items():
        if key.endswith(("_low", "_high")):
            continue
        low, high = values.get(f"{key}_low"), values.get(f"{key}_high")
        if value is not None and low is not None and high is not None:
            parts.append(f"{key} {significant(value, low, high)}")
        else:
            parts.append(f"{key} {fmt(value)}")
    return ", ".join(parts)
