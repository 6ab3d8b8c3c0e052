"""What a run writes to the store: each target's metrics, anytime curve and artifacts, and the
invocation's summary and suite-level metrics."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import torch

from benchmark.run import artifacts
from benchmark.run.solve import TargetOutcome
from benchmark.run.tracking import Tracker
from solvers.base import Problem, Target


def stored_outcome(run: Any) -> TargetOutcome:
    """A target already finished in the store, as the outcome of this run (for its summary)."""
    metrics = dict(run.data.metrics)
    return TargetOutcome(
        run.data.tags.get("soundmatch.target", run.info.run_name),
        metrics,
        int(metrics.get("renders", 0)),
        float(metrics.get("seconds", 0.0)),
        run_id=run.info.run_id,
    )


def log_target(
    tracker: Tracker,
    run_id: str,
    outcome: TargetOutcome,
    target: Target,
    synth: Any,
    problem: Problem | None,
    plots: bool = True,
) -> None:
    """The target run's metrics, anytime curve and artifacts (both WAVs, params.json, the synth's
    patch export and, with ``plots``, the spectrogram picture, 0.4 s of drawing per target)."""
    tracker.log_metrics(run_id, outcome.metrics)
    if outcome.tags:
        tracker.set_tags(run_id, outcome.tags)
    if problem is not None:
        curve = [("anytime_loss", p.best_loss, p.renders) for p in problem.curve]
        curve += [("anytime_seconds", p.seconds, p.renders) for p in problem.curve]
        tracker.log_series(run_id, ((k, v, s) for k, v, s in curve if math.isfinite(v)))
    x: torch.Tensor = outcome.info["x"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sr = target.sample_rate
        match = None if problem is None else outcome.match
        if match is None and problem is not None:
            match = problem.render(x.unsqueeze(0))[0]
        match = None if match is None else match.detach().cpu().numpy()
        artifacts.write_wav(folder / "target.wav", target.audio.numpy(), sr)
        if match is not None:
            artifacts.write_wav(folder / "match.wav", match, sr)
            if plots:
                artifacts.spectrogram_comparison(
                    folder / "spectrogram.png", target.audio.numpy(), match, sr, title=target.name
                )
        record = {
            "synth": synth.name,
            "unit": x.tolist(),
            "physical": synth.spec.describe(x),
            "target_unit": None if target.params is None else target.params.tolist(),
            "target_physical": None if target.params is None else synth.spec.describe(target.params),
            "note": None if target.note is None else vars(target.note),
            "solver_info": {k: v for k, v in outcome.info.items() if k != "x"},
        }
        artifacts.write_json(folder / "params.json", record)
        synth.export_patch(x, folder)
        tracker.log_artifacts(run_id, folder)


def log_suite_metrics(
    tracker: Tracker,
    run_id: str,
    metrics: dict[str, Any],
    targets: list[Target],
    outcomes: list[TargetOutcome],
) -> dict[str, float | None]:
    """Suite-level metrics over this invocation's matches and their targets, on the parent run.

    Targets resumed from an earlier invocation are not re-rendered, so they are left
    out; ``suite_metric_targets`` records how many matches the values cover.
    """
    audio = {t.name: t for t in targets}
    done = [o for o in outcomes if o.match is not None and o.target in audio]
    if not metrics or not done:
        return {}
    preds = [o.match.numpy() for o in done]  # type: ignore[union-attr]
    refs = [audio[o.target].audio.cpu().numpy() for o in done]
    rate = audio[done[0].target].sample_rate
    values: dict[str, float | None] = {}
    for name, metric in metrics.items():
        values[name] = metric(preds, refs, rate)
        interval = getattr(metric, "interval", None)  # e.g. fad's bootstrap interval over clips
        if interval is not None:
            values[f"{name}_low"], values[f"{name}_high"] = interval
    values["suite_metric_targets"] = float(len(done))
    tracker.log_metrics(run_id, values)
    return values


def mean_metrics(rows: list[dict[str, Any]], keys: list[str] | None = None) -> dict[str, float]:
    """``mean_<metric>`` over the rows that have it (all metrics any row has, or ``keys``): what a
    parent run logs over its targets."""
    keys = sorted({k for r in rows for k, v in r.items() if v is not None}) if keys is None else keys
    means = {}
    for k in keys:
        vals = [r[k] for r in rows if r.get(k) is not None]
        if vals:
            means[f"mean_{k}"] = float(sum(vals) / len(vals))
    return means


def log_summary(tracker: Tracker, run_id: str, outcomes: list[TargetOutcome]) -> None:
    tracker.log_metrics(run_id, mean_metrics([o.metrics for o in outcomes]))
