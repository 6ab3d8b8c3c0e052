"""Add or recompute metrics on finished runs from their logged audio, without solving again.

    python -m benchmark rescore metrics=[lsd,noise_ratio_error]          # fill in what is missing
    python -m benchmark rescore metrics=[match_distance] force=true      # recompute what is there
    python -m benchmark rescore metrics=[lsd] solver=cma suite=gm_notes-7a2b83f2 tracking.uri=URI

Every FINISHED per-target run of the experiment (optionally one solver's or
one suite's) is read back from the store: ``target.wav`` and ``match.wav``
(24-bit, or 32-bit float for audio past full scale; older 16-bit files are read as they are;
runs whose PCM audio was written clipped at full scale are named, since their values score the
clipped sound), the note and the parameter
vectors of ``params.json``. Each requested per-match metric the run lacks, or
holds from an older version of the metric's definition (the run's
``soundmatch.metric_version.<name>`` tag; runs from before versions hold
version 1), or all of them with ``force=true``, is computed with the options
the run logged under ``metric_options.<name>`` and logged on the run with the
version it was computed with; its parent run's ``mean_<metric>`` and version
tag are brought up to date. Resume keys leave the metric list out, so adding a
metric to a sweep and rescoring is what completes old results.
Suite-level metrics (``fad``) need a whole suite's audio at once and are left
to ``run``.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmark.options import Option, boolean, parse_command, text, words
from benchmark.run.artifacts import clipped_at_full_scale
from benchmark.run.audio import read_segment, to_mono
from benchmark.run.tracking import Tracker, require_store, resolve_uri, with_retry
from metrics.base import VERSION_TAG, Evaluation, bind_metric, metric_registry, metric_version
from soundmatch.errors import UserError
from synths.base import Note

OPTIONS = [
    Option("metrics", words, help="metrics to add, e.g. metrics=[lsd,mfcc_dist]"),
    Option("force", boolean, False, "recompute metrics a run already has"),
    Option("solver", text, "", "only this solver's runs"),
    Option("suite", text, "", "only this suite's runs (the soundmatch.suite tag)"),
    Option("tracking.uri", text, "", "MLflow store (default: results_dir/mlflow.db)"),
    Option("tracking.experiment", text, "soundmatch", "experiment"),
    Option("results_dir", text, "results", "folder of the default store"),
]


def per_match_metrics(names: list[str]) -> list[str]:
    """``names`` checked against the registry; suite-level ones refused with the reason."""
    for name in names:
        factory = metric_registry.get(name)  # unknown: one line naming the available ones
        if getattr(factory, "suite_level", False):
            raise UserError(f"rescore: '{name}' is a suite-level metric; re-run the suite to compute it")
    return names


def logged_options(params: dict[str, str], metric: str) -> dict[str, Any]:
    """The ``metric_options.<metric>.<key>`` params a run logged, as typed values."""
    prefix = f"metric_options.{metric}."
    return {k[len(prefix):]: yaml.safe_load(v) for k, v in params.items() if k.startswith(prefix)}


def current_options(run: Any, metric: str, version: str) -> dict[str, Any]:
    """The options ``run`` logged for ``metric``, less those the metric's definition no longer
    takes when the run was scored with another version of it (version 1 of ``match_distance``
    took ``range_db``; version 2 fixes its floors)."""
    import inspect

    options = logged_options(run.data.params, metric)
    if run.data.tags.get(VERSION_TAG + metric, "1") == version:
        return options
    accepted = inspect.signature(metric_registry.get(metric)).parameters
    return {k: v for k, v in options.items() if k in accepted}


def evaluation_of(folder: Path) -> Evaluation:
    """The match of one run, as its metrics see it, from its downloaded artifacts."""
    for name in ("target.wav", "match.wav"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"the run has no {name} artifact")
    target, rate = read_segment(folder / "target.wav")
    pred, pred_rate = read_segment(folder / "match.wav")
    target, pred = to_mono(target), to_mono(pred)
    if pred_rate != rate:
        raise ValueError(f"match.wav is at {pred_rate} Hz, target.wav at {rate} Hz")
    record = json.loads((folder / "params.json").read_text()) if (folder / "params.json").is_file() else {}
    note = record.get("note")

    def vector(key: str) -> np.ndarray | None:
        return None if record.get(key) is None else np.asarray(record[key], dtype=np.float32)

    return Evaluation(
        pred=pred,
        target=target,
        sample_rate=rate,
        pred_params=vector("unit"),
        target_params=vector("target_unit"),
        note_hz=None if note is None else Note(float(note["pitch"]), int(note["velocity"])).hz,
    )


def _download(tracker: Tracker, run_id: str, folder: Path) -> None:
    """The artifacts a metric needs, into ``folder`` (a missing one is named by :func:`evaluation_of`)."""
    from mlflow.exceptions import MlflowException

    for name in ("target.wav", "match.wav", "params.json"):
        try:
            with_retry(lambda name=name: tracker.client.download_artifacts(run_id, name, str(folder)))
        except (OSError, MlflowException):
            continue


def rescore(
    tracker: Tracker, names: list[str], force: bool = False, solver: str = "", suite: str = ""
) -> tuple[int, list[str]]:
    """Log the missing (or, with ``force``, all) ``names`` on every finished target run matching
    the filters; returns (runs rescored, one line per run that could not be)."""
    query = "tags.`soundmatch.level` = 'target' and attributes.status = 'FINISHED'"
    if solver:
        query += f" and tags.`soundmatch.solver` = '{solver}'"
    if suite:
        query += f" and tags.`soundmatch.suite` = '{suite}'"
    done, problems, clipped = 0, [], []
    parents: dict[str, set[str]] = defaultdict(set)
    versions = {m: str(metric_version(m)) for m in names}

    def stale(run: Any, m: str) -> bool:
        logged = run.data.tags.get(VERSION_TAG + m, "1")
        return m not in run.data.metrics or logged != versions[m]

    for run in tracker.search(query):
        todo = [m for m in names if force or stale(run, m)]
        if not todo:
            continue
        label = f"{run.data.tags.get('soundmatch.target', run.info.run_name)} ({run.info.run_id[:8]})"
        try:
            with tempfile.TemporaryDirectory() as tmp:
                _download(tracker, run.info.run_id, Path(tmp))
                ev = evaluation_of(Path(tmp))
                if any(clipped_at_full_scale(Path(tmp) / name) for name in ("target.wav", "match.wav")):
                    clipped.append(label)
            values = {m: bind_metric(m, current_options(run, m, versions[m]))(ev) for m in todo}
        except (OSError, ValueError) as err:
            problems.append(f"{label}: {err}")
            continue
        tracker.log_metrics(run.info.run_id, values)
        tracker.set_tags(run.info.run_id, {VERSION_TAG + m: versions[m] for m in todo})
        parent = run.data.tags.get("mlflow.parentRunId")
        if parent:
            parents[parent].update(todo)
        done += 1
    for parent, metrics in parents.items():
        _update_means(tracker, parent, sorted(metrics))
    if clipped:
        shown = ", ".join(clipped[:5]) + (f" and {len(clipped) - 5} more" if len(clipped) > 5 else "")
        print(f"note: {len(clipped)} rescored run(s) hold audio at full scale, written clipped if the sound "
              f"went past it (PCM artifacts of runs before float ones): their values score the clipped "
              f"sound, not what was scored live: {shown}")
    return done, problems


def _update_means(tracker: Tracker, parent: str, metrics: list[str]) -> None:
    """``mean_<metric>`` of a parent run over its finished children, as ``run`` logs it."""
    from benchmark.run.record import mean_metrics

    children = tracker.search(f"tags.`mlflow.parentRunId` = '{parent}' and attributes.status = 'FINISHED'")
    tracker.log_metrics(parent, mean_metrics([dict(c.data.metrics) for c in children], metrics))
    tracker.set_tags(parent, {VERSION_TAG + m: str(metric_version(m)) for m in metrics})


def rescore_cli(args: list[str]) -> int:
    values = parse_command(args, OPTIONS, "rescore", __doc__)
    if values is None:
        return 0
    names = per_match_metrics(values["metrics"])
    uri = resolve_uri(values["tracking.uri"] or None, values["results_dir"])
    require_store(uri, "rescore")
    tracker = Tracker(uri, values["tracking.experiment"])
    done, problems = rescore(tracker, names, values["force"], values["solver"], values["suite"])
    print(f"rescored {done} run(s) with {', '.join(names)} in {uri}")
    for line in problems:
        print(f"could not rescore {line}")
    return 1 if problems else 0
