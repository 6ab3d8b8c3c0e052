"""Run one benchmark configuration: build the parts, solve every target, score, log."""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from benchmark.paths import CONF_DIR
from benchmark.run import artifacts
from benchmark.run.config_check import check_run_config
from benchmark.run.dexed_check import dexed_available, dexed_check
from benchmark.run.presets import synth_preset
from benchmark.run.progress import ProgressView
from benchmark.run.progress import training as training_progress
from benchmark.run.targets import SuiteContext, suite_registry
from benchmark.run.tracking import (
    INVOCATION_ENV,
    OWNER_TAG,
    Tracker,
    check_store,
    flatten,
    owner,
    resolve_uri,
    sqlite_path,
    storage_problem,
    store_lock,
)
from metrics.base import (
    VERSION_TAG,
    Evaluation,
    bind_metric,
    loss_registry,
    metric_backends,
    metric_registry,
    metric_version,
)
from solvers.base import Budget, BudgetExhausted, Problem, Result, Target, Task, solver_registry
from soundmatch.errors import UserError
from soundmatch.registry import Registry
from soundmatch.seeding import derive_seed
from synths.base import Note, render_meter, synth_registry

# config keys that do not change what a run solves (left out of its hash): where it is logged, how it
# is shown, and which metrics score it (adding a metric does not re-solve finished targets; force=true does)
NON_SEMANTIC_KEYS = ("tracking", "results_dir", "force", "progress", "hydra", "metrics", "metric_options")
# ``synth.hold=auto``: on recorded suites each target's note-off is read from its loudness envelope
AUTO_HOLD = "auto"
HARD_STOP_GRACE = 5.0  # s past budget.seconds before a solver that does not stop itself is abandoned
STOP_WAIT = 10.0  # s an interrupted search is given to reach its next render and end


@dataclass
class TargetOutcome:
    """One target's result as logged: final metrics, spend, and where it is stored."""

    target: str
    metrics: dict[str, float | None]
    renders: int
    seconds: float
    run_id: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    match: torch.Tensor | None = None  # the match's audio [T], for suite-level metrics (fad)
    tags: dict[str, str] = field(default_factory=dict)  # e.g. whether the Dexed check ran


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


def build(registry: Registry, node: DictConfig, **extra: Any) -> Any:
    """Instantiate ``registry[node.name]`` with the node's other keys as options."""
    options = OmegaConf.to_container(node, resolve=True)
    return registry.from_spec(options, f"the {registry.kind} config", **extra)


def config_dict(cfg: DictConfig) -> dict[str, Any]:
    data = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(data, dict)
    data.pop("hydra", None)
    return data


def config_hash(cfg: DictConfig) -> str:
    """sha1 (12 hex digits) of the config without the keys that do not change the outcome, and of
    the code version: after a fix, results of the old code no longer count as done (nor mix in)."""
    data = {k: v for k, v in config_dict(cfg).items() if k not in NON_SEMANTIC_KEYS}
    data["code_version"] = code_version()
    return hashlib.sha1(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12]


def suite_key(cfg: DictConfig, uses_synth: bool) -> tuple[dict[str, Any], str]:
    """What decides a suite's targets (its options, rate, duration, note and, for synthetic suites,
    the synth that renders them), and the name of that synth."""
    data = config_dict(cfg)
    key = {k: data[k] for k in ("target", "sample_rate", "duration", "note")}
    synth_name = str(cfg.synth.name)
    if uses_synth:
        key["synth"] = data["synth"]
        key["target"] = dict(key["target"])
        preset = key["target"].pop("synth", None)  # targets rendered by another synth's preset
        if preset:
            key["synth"] = synth_preset(preset)
            synth_name = str(preset)
    return key, synth_name


def suite_hash(cfg: DictConfig, uses_synth: bool) -> str:
    """8 hex digits that change whenever the suite's targets would (tag ``soundmatch.suite_hash``)."""
    key, _ = suite_key(cfg, uses_synth)
    return hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _label_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "+".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


@functools.lru_cache(maxsize=1)
def _base_config() -> DictConfig:
    """The run defaults of ``conf/config.yaml`` (rate, clip length, note)."""
    return OmegaConf.load(CONF_DIR / "config.yaml")


def suite_id(cfg: DictConfig, suite: Any) -> str:
    """A name a reader understands, made of the suite's content: e.g. ``synthetic/fm2/n8/seed0``,
    ``gm_notes/test``, ``gm_notes/all/instruments=flute+oboe/8k``.

    The suite's ``label_keys`` are always shown (numbers as ``n8``, words bare);
    any other option only when it differs from the suite's default, as
    ``key=value``; the sample rate and clip length when they differ from 16 kHz
    and 1 s. Two configs with the same name have the same targets (the suite's
    hash, kept as a tag, tells defaults changed in code apart).
    """
    import dataclasses

    _, synth_name = suite_key(cfg, suite.uses_synth)
    if synth_name == str(cfg.synth.name):  # the run's synth renders the targets: name its preset
        synth_name = synth_config_name(cfg)
    options = OmegaConf.to_container(cfg.target, resolve=True)
    assert isinstance(options, dict)
    parts = [str(cfg.target.name)] + ([synth_name] if suite.uses_synth else [])
    for k in suite.label_keys:
        value = options.get(k)
        parts.append(f"{k}{value}" if isinstance(value, (int, float)) else _label_value(value))
    defaults = {
        f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
        for f in dataclasses.fields(suite)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    }
    for k, value in sorted(options.items()):
        shown = k in suite.label_keys or k in ("name", "synth") or k not in defaults
        if not shown and value != defaults[k]:
            parts.append(f"{k}={_label_value(value)}")
    base = _base_config()
    if int(cfg.sample_rate) != int(base.sample_rate):
        parts.append(f"{int(cfg.sample_rate) / 1000:g}k")
    if float(cfg.duration) != float(base.duration):
        parts.append(f"{float(cfg.duration):g}s")
    if suite.uses_synth and (float(cfg.note.pitch), int(cfg.note.velocity)) != (
        float(base.note.pitch), int(base.note.velocity)
    ):
        parts.append(f"note{float(cfg.note.pitch):g}v{int(cfg.note.velocity)}")
    return "/".join(parts)


def synth_config_name(cfg: DictConfig) -> str:
    """The synth config the user chose (``synth=dx7_flute`` -> 'dx7_flute', a preset of dx7),
    when Hydra's CLI composed the run; else the synth's registered name."""
    from hydra.core.hydra_config import HydraConfig

    choice = HydraConfig.get().runtime.choices.get("synth") if HydraConfig.initialized() else None
    return str(choice) if choice is not None else str(cfg.synth.name)


@functools.lru_cache(maxsize=1)
def machine_tags() -> dict[str, str]:
    """What a time in ``seconds`` was measured on: CPU, cores, torch threads and versions."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "soundmatch.machine.cpu": cpu,
        "soundmatch.machine.cores": str(os.cpu_count()),
        "soundmatch.machine.torch_threads": str(torch.get_num_threads()),
        "soundmatch.machine.torch": torch.__version__,
        "soundmatch.machine.numpy": np.__version__,
        "soundmatch.machine.python": platform.python_version(),
        "soundmatch.machine.device": "cuda" if torch.cuda.is_available() else "cpu",
    }


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """``<package version>+<git commit>`` with ``-dirty`` when tracked files differ from the commit
    (e.g. ``0.1.0+b65cd896f8b5-dirty``); the package version alone outside a git checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("soundmatch")
    except PackageNotFoundError:
        package = "unknown"
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, cwd=here)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "--short=12", "HEAD")
    if commit is None:
        return package
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{package}+{commit}" + ("-dirty" if dirty else "")


class SolverFailed(RuntimeError):
    """A solver's own code ended its search with an exception (``SystemExit`` and ``KeyboardInterrupt``
    raised inside it included): its target fails, the sweep goes on."""


def solve_one(solver: Any, problem: Problem) -> tuple[torch.Tensor, dict[str, Any]]:
    """Run the solver; the parameters it returns (or the best it evaluated) and its info.

    The search runs in its own thread, under the render meter (every synth render it makes is
    counted against the budget, :func:`synths.base.render_meter`). With ``budget.seconds``, a
    solver still searching ``HARD_STOP_GRACE`` s past it is stopped: the problem refuses every
    further render, its best point so far is scored, and ``info["over_time"]`` says so (the
    abandoned thread ends with the process). Whatever the solver's code raises ends this target
    as :class:`SolverFailed`; a Ctrl-C of the user still stops the whole run.
    """
    box: dict[str, Any] = {}

    def search() -> None:
        with render_meter(problem.charge_render):
            try:
                box["result"] = solver.solve(problem)
            except BudgetExhausted:
                pass
            except BaseException as err:  # the solver's own, SystemExit and KeyboardInterrupt included
                box["error"] = err

    thread = threading.Thread(target=search, name=f"solver-{solver.name}", daemon=True)
    thread.start()
    seconds = problem.budget.seconds
    try:
        thread.join(None if seconds is None else seconds + HARD_STOP_GRACE)
    except BaseException:  # the user's Ctrl-C or a SIGTERM: let the search end at its next render first
        problem.stopped = True  # (a thread killed inside torch at exit aborts the whole process)
        thread.join(STOP_WAIT)
        raise
    over_time = thread.is_alive()
    if over_time:
        problem.stopped = True  # its later renders raise BudgetExhausted in its own thread
    if "error" in box:
        err = box["error"]
        if isinstance(err, Exception):
            raise err  # as the solver raised it (its traceback kept)
        raise SolverFailed(
            f"solver '{solver.name}' raised {type(err).__name__}: {err}".rstrip(": ")
        ) from err
    result: Result | None = box.get("result")
    info = dict(result.info) if result is not None else {}
    if over_time:
        info["over_time"] = True
        result = None  # whatever it may still return is too late: its best evaluated point counts
    if result is not None and result.controls is not None:  # a time-varying match: scored as controls
        info["controls"] = result.controls
    x = result.x if result is not None and result.x is not None else problem.best_x
    if x is None:
        raise RuntimeError(f"solver '{solver.name}' evaluated nothing and returned nothing")
    x = x.detach().reshape(-1).cpu().float()
    if not bool(torch.isfinite(x).all()):
        raise FloatingPointError(f"solver '{solver.name}' returned non-finite parameters: {x.tolist()}")
    return x, info


def score(
    problem: Problem,
    x: torch.Tensor,
    metric_names: list[str],
    controls: dict[str, torch.Tensor] | None = None,
    metric_options: dict[str, dict[str, Any]] | None = None,
) -> tuple[dict[str, float | None], torch.Tensor]:
    """Re-evaluate ``x`` (no budget spent) and compute every metric; returns metrics and audio.

    With ``controls`` (a solver's time-varying match, ``Result.controls``) their render is scored instead.
    ``metric_options``: per metric name, the keyword options it is called with.
    """
    with torch.no_grad():
        if controls is not None:
            audio = problem.render_controls(controls)
            loss = float(problem._bound_loss(audio)[0])
        else:
            audio = problem.render(x.unsqueeze(0))
            loss = float(problem.loss_of(x.unsqueeze(0))[0])
    pred = audio[0].cpu().numpy()
    target = problem.target
    ev = Evaluation(
        pred=pred,
        target=target.audio.cpu().numpy(),
        sample_rate=target.sample_rate,
        pred_params=x.numpy(),
        target_params=None if target.params is None else target.params.cpu().numpy(),
        note_hz=None if target.note is None else target.note.hz,
    )
    if math.isnan(loss):  # a NaN match is a fault of the run; an infinite loss is a (bad) result
        raise FloatingPointError("the loss of the returned parameters is NaN")
    values: dict[str, float | None] = {"loss": loss}
    options = metric_options or {}
    for name in metric_names:
        values[name] = bind_metric(name, options.get(name))(ev)
    return values, audio[0].cpu()


def run(cfg: DictConfig) -> RunOutcome:
    """Run every target of the configured suite with the configured solver; log to MLflow."""
    check_run_config(cfg)
    check_store(resolve_uri(cfg.tracking.uri, Path(cfg.results_dir)))  # before any work
    torch.manual_seed(int(cfg.seed))
    device = torch.device(cfg.device)
    auto_hold = str(cfg.synth.get("hold")) == AUTO_HOLD
    synth = build(synth_registry, _without_auto_hold(cfg.synth))
    loss = build(loss_registry, cfg.loss, sample_rate=int(cfg.sample_rate))
    solver = build(solver_registry, cfg.solver)
    suite = build(suite_registry, cfg.target)
    metric_names = [str(m) for m in cfg.metrics]
    for m in metric_names:
        metric_registry.get(m)  # fail before any work on an unknown metric
    # suite-level metrics (fad) see every match and target once, at the end; built now to fail early
    suite_metrics = _suite_metrics(cfg, metric_names)
    metric_names = [m for m in metric_names if m not in suite_metrics]
    for m in metric_names:
        bind_metric(m, _metric_options(cfg).get(m))  # an unknown option fails before any work
    budget = Budget(cfg.budget.renders, cfg.budget.seconds)
    note = Note(float(cfg.note.pitch), int(cfg.note.velocity))
    ctx = SuiteContext(synth, int(cfg.sample_rate), float(cfg.duration), note, device)
    targets: list[Target] = suite.targets(ctx)
    if not targets:
        raise UserError(f"target suite '{cfg.target.name}' produced no targets; check its options")

    suite_name = suite_id(cfg, suite)
    results_dir = Path(cfg.results_dir)
    uri = resolve_uri(cfg.tracking.uri, results_dir)
    local = uri.startswith("sqlite:") or uri.startswith("file:")
    tracker = Tracker(uri, cfg.tracking.experiment, results_dir / "artifacts" if local else None)
    chash = config_hash(cfg)
    synth_config = synth_config_name(cfg)
    run_name = f"{cfg.solver.name}-{synth_config}-{cfg.loss.name}-{suite_name}"
    # resumable sweeps: targets this exact config already finished are not run again
    done = {} if cfg.force else tracker.finished_targets(chash)
    done_outcomes = [_stored_outcome(done[t.name]) for t in targets if t.name in done]
    # runs of this config still RUNNING belong to a process that died (this config runs now)
    stale = tracker.mark_killed(f"tags.`soundmatch.config_hash` = '{chash}'", "left RUNNING; ran again")
    if stale:
        print(f"marked {stale} run(s) of config {chash} left RUNNING by a killed process KILLED")
    if len(done_outcomes) == len(targets):
        print(
            f"skipped {run_name} seed={cfg.seed}: config {chash} already finished in the store "
            f"({len(targets)} targets); force=true runs it again"
        )
        return RunOutcome("", uri, str(cfg.tracking.experiment), suite_name, done_outcomes, skipped=True)
    if done_outcomes:
        print(f"resuming {run_name}: {len(done_outcomes)} of {len(targets)} targets already finished")
        targets = [t for t in targets if t.name not in done]
    # solvers that learn train once here, outside every target's budget; the cache is theirs
    cache = results_dir / "cache"
    task = Task(synth, loss, ctx.sample_rate, ctx.duration, note, device, cache, _suite_loader(ctx))
    with training_progress(str(cfg.solver.name), enabled=bool(cfg.progress)):
        training = solver.fit(task)
    # solvers trained on recordings (ddx7, hpn) are scored only on the targets they never trained on
    held_out = getattr(solver, "held_out", None)
    if callable(held_out):
        kept = held_out(targets)
        if len(kept) < len(targets):
            trained = len(targets) - len(kept)
            print(f"{cfg.solver.name}: scoring the {len(kept)} held-out targets ({trained} trained on)")
        if not kept:
            raise UserError(f"solver {cfg.solver.name} trained on every target; use target.split=test")
        targets = kept
    params = flatten(config_dict(cfg))
    tags = {
        "soundmatch.solver": str(cfg.solver.name),
        "soundmatch.synth": str(cfg.synth.name),
        "soundmatch.dimension": str(synth.spec.dim),  # parameters searched (IOHprofiler's DIM)
        "soundmatch.synth_config": synth_config,
        "soundmatch.loss": str(cfg.loss.name),
        "soundmatch.suite": suite_name,
        "soundmatch.suite_hash": suite_hash(cfg, suite.uses_synth),
        "soundmatch.config_hash": chash,
        "soundmatch.code_version": code_version(),
        "soundmatch.invocation": os.environ.get(INVOCATION_ENV, ""),
        OWNER_TAG: owner(),
        **{f"soundmatch.backend.{k}": v for k, v in metric_backends().items()},
        **{f"{VERSION_TAG}{m}": str(metric_version(m)) for m in cfg.metrics},
        **machine_tags(),
    }
    bench = cfg.get("bench") or {}
    if bench.get("suite"):
        tags["soundmatch.bench"] = f"{bench.suite}@{bench.hash}"
        tags["soundmatch.bench_task"] = str(bench.task)
    outcomes: list[TargetOutcome] = []
    failed: list[str] = []
    failure_lines: dict[str, str] = {}
    with ProgressView(enabled=bool(cfg.progress), targets=len(targets), budget=budget) as view:
        parent_tags = {**tags, "soundmatch.level": "invocation", **suite.run_tags()}
        with tracker.run(run_name, params, parent_tags) as parent:
            for target in targets:
                child_tags = {**tags, "soundmatch.level": "target", "soundmatch.target": target.name}
                child_tags.update(target_tags(target))
                played, hold_tags = synth_for_target(synth, target, auto_hold and not suite.uses_synth)
                child_tags.update(hold_tags)
                with contextlib.ExitStack() as claimed:
                    # checked and created under the store's lock: two sweeps never both take a target
                    with store_lock(uri):
                        busy = None if cfg.force else tracker.taken(chash, target.name)
                        if busy is None:
                            child = claimed.enter_context(
                                tracker.run(target.name, params, child_tags, parent_id=parent)
                            )
                    if busy is None and not cfg.force and sqlite_path(uri) is None:
                        # no file lock (a server): check after claiming; under a sqlite store's lock
                        # the claim above was atomic already
                        busy = tracker.lost_claim(chash, target.name, child)
                        if busy is not None:
                            tracker.withdraw(child)
                    if busy is not None:
                        print(f"{target.name}: not run here, {busy} (same config {chash})")
                        view.target_done()
                        continue
                    try:
                        outcome = _run_target(
                            cfg, played, loss, solver, target, budget, device, metric_names, view
                        )
                        outcome.run_id = child
                        outcome.metrics.update(
                            {k: v for k, v in training.items() if k not in outcome.metrics}
                        )
                        if "soundmatch.hold" in hold_tags:
                            outcome.metrics.setdefault("hold_seconds", float(hold_tags["soundmatch.hold"]))
                        plots = bool(cfg.artifacts.plots)
                        _log_target(tracker, child, outcome, target, played, view.last_problem, plots)
                        tracker.check_alive()
                    except UserError:
                        raise
                    except Exception as err:
                        problem = storage_problem(err)
                        if problem is not None:  # the store cannot take more: stop, say where and why
                            with contextlib.suppress(Exception):  # it may not take even this
                                tracker.fail(child)
                            raise UserError(
                                f"cannot write the results of {target.name}: {problem}; free space or choose "
                                f"another results_dir= / tracking.uri= (finished runs are kept in {uri})"
                            ) from None
                        # a faulty solver fails this target's run only; the sweep goes on
                        tracker.fail(child, traceback.format_exc())
                        failed.append(target.name)
                        failure_lines[target.name] = traceback.format_exception_only(err)[-1].strip()
                        outcome = None
                if outcome is not None:
                    outcomes.append(outcome)
                view.target_done()
            if failed:
                tracker.fail(parent)  # not every target finished: a resume runs the failed ones again
                tracker.set_tags(parent, {"soundmatch.failed_targets": ",".join(failed)})
            _log_summary(tracker, parent, [*done_outcomes, *outcomes])
            suite_values = _log_suite_metrics(tracker, parent, suite_metrics, targets, outcomes)
    if failed:
        print(
            f"{len(failed)} target(s) FAILED; the traceback of each is its run's artifact traceback.txt:",
            file=sys.stderr,
        )
        for name, line in failure_lines.items():
            print(f"  {name}: {line}", file=sys.stderr)
    return RunOutcome(
        parent,
        uri,
        str(cfg.tracking.experiment),
        suite_name,
        [*done_outcomes, *outcomes],
        failed=failed,
        failure_lines=failure_lines,
        suite_metrics=suite_values,
    )


TARGET_TAGS = ("source", "pitch", "pitch_source", "velocity", "f0_hz", "f0_midi", "f0_backend")


def target_tags(target: Target) -> dict[str, str]:
    """What the suite read about a target (its file, note, where the note came from, the exact f0)
    as the tags ``soundmatch.target.<key>`` of its run."""
    meta = dict(target.meta or {})
    if target.note is not None:
        meta.setdefault("pitch", target.note.pitch)
        meta.setdefault("velocity", target.note.velocity)
    return {f"soundmatch.target.{k}": str(meta[k]) for k in TARGET_TAGS if meta.get(k) is not None}


def _without_auto_hold(node: DictConfig) -> DictConfig:
    """The synth's config with ``hold: auto`` as null (75% of the clip until a target says otherwise)."""
    if str(node.get("hold")) != AUTO_HOLD:
        return node
    node = node.copy()
    node.hold = None
    return node


def synth_for_target(synth: Any, target: Target, auto_hold: bool) -> tuple[Any, dict[str, str]]:
    """The synth that plays ``target``, and tags saying when its note-off falls.

    With ``auto_hold`` (``synth.hold=auto`` on a recorded suite) the note-off is read
    from the target's loudness envelope (:func:`analysis.envelope.note_off_time`):
    where its release starts, or the clip's end when the note sustains; the synth is
    a copy of ``synth`` with that ``hold``. Otherwise ``synth`` itself plays it.
    """
    if not auto_hold or not hasattr(synth, "hold"):
        return synth, {}
    from analysis.envelope import note_off_time

    seconds, sustains = note_off_time(target.audio.detach().cpu().numpy(), target.sample_rate)
    played = copy.copy(synth)
    played.hold = float(seconds)
    source = "sustains to the clip end" if sustains else "release found"
    return played, {"soundmatch.hold": f"{seconds:.4f}", "soundmatch.hold_source": source}


def _stored_outcome(run: Any) -> TargetOutcome:
    """A target already finished in the store, as the outcome of this run (for its summary)."""
    metrics = dict(run.data.metrics)
    return TargetOutcome(
        run.data.tags.get("soundmatch.target", run.info.run_name),
        metrics,
        int(metrics.get("renders", 0)),
        float(metrics.get("seconds", 0.0)),
        run_id=run.info.run_id,
    )


def _suite_loader(ctx: SuiteContext):
    """``load_suite(options) -> targets`` for :class:`Task`: any suite, built from a config dict."""

    def load_suite(options: dict[str, Any]) -> list[Target]:
        return build(suite_registry, OmegaConf.create(dict(options))).targets(ctx)

    return load_suite


def _run_target(
    cfg: DictConfig,
    synth: Any,
    loss: Any,
    solver: Any,
    target: Target,
    budget: Budget,
    device: torch.device,
    metric_names: list[str],
    view: ProgressView,
) -> TargetOutcome:
    seed = derive_seed(int(cfg.seed), "solver", target.name) % 2**31
    problem = Problem(synth, target, loss, budget, seed=seed, device=device, on_progress=view.update)
    view.start_target(target.name, problem)
    t0 = time.perf_counter()
    x, info = solve_one(solver, problem)
    seconds = time.perf_counter() - t0
    controls = info.pop("controls", None)
    values, match = score(problem, x, metric_names, controls, _metric_options(cfg))
    values.update(renders=float(problem.renders), backwards=float(problem.backwards))
    values["seconds"] = seconds
    if info.get("over_time"):  # stopped by the harness: its best evaluated point is what is scored
        values["over_time"] = 1.0
        print(f"{target.name}: solver {solver.name} overran budget.seconds and was stopped", file=sys.stderr)
    extra = info.pop("metrics", None) or {}  # a solver's own figures (e.g. inference_seconds)
    values.update({k: float(v) for k, v in extra.items() if k not in values})
    tags = {}
    if controls is None:  # a voice, not per-frame controls: what match.syx holds
        check = dexed_check(synth, x, target.note, target.duration)
        values.update(check.values)
        tags.update(check.tags())
        if check.skipped and dexed_available():  # without dexed-py the tag says so, quietly
            print(f"{target.name}: Dexed check skipped: {check.skipped}", file=sys.stderr)
    return TargetOutcome(
        target.name, values, problem.renders, seconds, info={"x": x, **info}, match=match, tags=tags
    )


def _log_target(
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
        export = getattr(synth, "export_patch", None)
        if export is not None:
            export(x, folder)
        tracker.log_artifacts(run_id, folder)


def _metric_options(cfg: DictConfig) -> dict[str, dict[str, Any]]:
    """``metric_options`` as plain dicts, per metric name."""
    options = OmegaConf.to_container(cfg.get("metric_options") or {}, resolve=True)
    assert isinstance(options, dict)
    return {str(k): dict(v or {}) for k, v in options.items()}


def _suite_metrics(cfg: DictConfig, metric_names: list[str]) -> dict[str, Any]:
    """The metrics marked ``suite_level``, built with their ``metric_options.<name>`` options."""
    options = _metric_options(cfg)
    built: dict[str, Any] = {}
    for name in metric_names:
        factory = metric_registry.get(name)
        if getattr(factory, "suite_level", False):
            built[name] = metric_registry.create(name, **(options.get(name) or {}))
    return built


def _log_suite_metrics(
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


def _log_summary(tracker: Tracker, run_id: str, outcomes: list[TargetOutcome]) -> None:
    tracker.log_metrics(run_id, mean_metrics([o.metrics for o in outcomes]))
