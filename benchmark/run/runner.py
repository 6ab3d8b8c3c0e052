"""Run one benchmark configuration: its spec built once, the targets still to do, training, then
each target claimed, solved, scored and logged.

The parts, each in its own module: :mod:`benchmark.run.spec` (the typed run specification made
from the config), :mod:`benchmark.run.identity` (config and suite hashes, names, code version),
:meth:`benchmark.run.tracking.Tracker.claim` (a target taken by exactly one process),
:mod:`benchmark.run.solve` (one target's search and scoring) and :mod:`benchmark.run.record`
(what goes to the store).
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig

from benchmark.run.identity import target_tags
from benchmark.run.progress import ProgressView
from benchmark.run.progress import training as training_progress
from benchmark.run.record import log_suite_metrics, log_summary, log_target, stored_outcome
from benchmark.run.solve import TargetOutcome, solve_target, synth_for_target
from benchmark.run.spec import RunSpec
from benchmark.run.tracking import Tracker, storage_problem
from solvers.base import Target
from soundmatch.errors import UserError


@dataclass
class RunOutcome:
    parent_run_id: str
    tracking_uri: str
    experiment: str
    suite: str
    targets: list[TargetOutcome]
    skipped: bool = False  # every target of this config had already finished in the store
    failed: list[str] = field(default_factory=list)  # targets whose run ended FAILED
    failure_lines: dict[str, str] = field(default_factory=dict)  # target -> its exception's last line
    suite_metrics: dict[str, float | None] = field(default_factory=dict)  # e.g. fad, on the parent run


def run(cfg: DictConfig) -> RunOutcome:
    """Run every target of the configured suite with the configured solver; log to MLflow."""
    spec = RunSpec.from_config(cfg)
    tracker = Tracker(spec.uri, spec.experiment, spec.artifact_root)
    targets, done = _still_to_do(spec, tracker)
    if not targets:
        return RunOutcome("", spec.uri, spec.experiment, spec.suite_name, done, skipped=True)
    # solvers that learn train once here, outside every target's budget; the cache is theirs
    with training_progress(spec.solver_name, enabled=spec.progress):
        training = spec.solver.fit(spec.task())
    targets = _held_out(spec, targets)
    failures: dict[str, str] = {}  # target -> the last line of its exception
    parent_tags = {**spec.tags, "soundmatch.level": "invocation", **spec.suite.run_tags()}
    with ProgressView(enabled=spec.progress, targets=len(targets), budget=spec.budget) as view, \
            tracker.run(spec.run_name, spec.params, parent_tags) as parent:  # fmt: skip
        outcomes = [
            outcome
            for target in targets
            if (outcome := _target(spec, tracker, parent, target, training, view, failures)) is not None
        ]
        if failures:
            tracker.fail(parent)  # not every target finished: a resume runs the failed ones again
            tracker.set_tags(parent, {"soundmatch.failed_targets": ",".join(failures)})
        log_summary(tracker, parent, [*done, *outcomes])
        suite_values = log_suite_metrics(tracker, parent, spec.suite_metrics, targets, outcomes)
    if failures:
        print(f"{len(failures)} target(s) FAILED; the traceback of each is its run's artifact traceback.txt:",
              file=sys.stderr)  # fmt: skip
        for name, line in failures.items():
            print(f"  {name}: {line}", file=sys.stderr)
    return RunOutcome(parent, spec.uri, spec.experiment, spec.suite_name, [*done, *outcomes],
                      failed=list(failures), failure_lines=failures, suite_metrics=suite_values)  # fmt: skip


def _still_to_do(spec: RunSpec, tracker: Tracker) -> tuple[list[Target], list[TargetOutcome]]:
    """The targets this config has not finished in the store (resumable sweeps; all with
    ``force``), and the finished ones as outcomes; ends the runs of this config a dead process left
    RUNNING."""
    finished = {} if spec.force else tracker.finished_targets(spec.config_hash)
    done = [stored_outcome(finished[t.name]) for t in spec.targets if t.name in finished]
    # runs of this config still RUNNING belong to a process that died (this config runs now)
    stale = tracker.mark_killed(
        f"tags.`soundmatch.config_hash` = '{spec.config_hash}'", "left RUNNING; ran again"
    )
    if stale:
        print(f"marked {stale} run(s) of config {spec.config_hash} left RUNNING by a killed process KILLED")
    todo = [t for t in spec.targets if t.name not in finished]
    if not todo:
        print(f"skipped {spec.run_name} seed={spec.seed}: config {spec.config_hash} already finished in the "
              f"store ({len(spec.targets)} targets); force=true runs it again")  # fmt: skip
    elif done:
        print(f"resuming {spec.run_name}: {len(done)} of {len(spec.targets)} targets already finished")
    return todo, done


def _held_out(spec: RunSpec, targets: list[Target]) -> list[Target]:
    """Solvers that learnt from recordings or presets (ddx7, hpn, retrieval) are scored only on the
    targets they never saw (:meth:`solvers.base.Solver.held_out`)."""
    kept = spec.solver.held_out(targets)
    if len(kept) < len(targets):
        trained = len(targets) - len(kept)
        print(f"{spec.solver_name}: scoring the {len(kept)} held-out targets ({trained} trained on)")
    if not kept:
        raise UserError(f"solver {spec.solver_name} trained on every target; use target.split=test")
    return kept


def _target(
    spec: RunSpec, tracker: Tracker, parent: str, target: Target, training: dict[str, Any],
    view: ProgressView, failures: dict[str, str],
) -> TargetOutcome | None:  # fmt: skip
    """Claim, solve, score and log one target; None when another process has it or it FAILED (its
    reason put in ``failures``). A store that cannot take more ends the run in one line."""
    synth, hold_tags = synth_for_target(spec.synth, target, spec.auto_hold)
    tags = {**spec.tags, "soundmatch.level": "target", "soundmatch.target": target.name,
            **target_tags(target), **hold_tags}  # fmt: skip
    outcome = None
    with tracker.claim(spec.config_hash, target.name, spec.params, tags, parent, spec.force) as run_id:
        if run_id is not None:
            try:
                outcome = solve_target(spec, synth, target, view)
                outcome.run_id = run_id
                outcome.metrics.update({k: v for k, v in training.items() if k not in outcome.metrics})
                if "soundmatch.hold" in hold_tags:
                    outcome.metrics.setdefault("hold_seconds", float(hold_tags["soundmatch.hold"]))
                log_target(tracker, run_id, outcome, target, synth, view.last_problem, spec.plots)
                tracker.check_alive()
            except UserError:
                raise
            except Exception as err:
                problem = storage_problem(err)
                if problem is not None:  # the store cannot take more: stop, say where and why
                    with contextlib.suppress(Exception):  # it may not take even this
                        tracker.fail(run_id)
                    raise UserError(
                        f"cannot write the results of {target.name}: {problem}; free space or choose another "
                        f"results_dir= / tracking.uri= (finished runs are kept in {spec.uri})"
                    ) from None
                # a faulty solver fails this target's run only; the sweep goes on
                tracker.fail(run_id, traceback.format_exc())
                failures[target.name] = traceback.format_exception_only(err)[-1].strip()
                outcome = None
    view.target_done()
    return outcome
