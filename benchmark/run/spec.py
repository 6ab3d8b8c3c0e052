"""A run's specification: every part built and checked once from the config, before any work.

Past :meth:`RunSpec.from_config` nothing reads the raw config: the runner, the target loop and
the logging take the typed fields below.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from benchmark.run.config_check import check_run_config
from benchmark.run.identity import (
    code_version,
    config_dict,
    config_hash,
    machine_tags,
    suite_hash,
    suite_id,
    synth_config_name,
)
from benchmark.run.targets import SuiteContext, suite_registry
from benchmark.run.tracking import INVOCATION_ENV, OWNER_TAG, check_store, flatten, owner, resolve_uri
from losses.base import loss_registry
from metrics.base import (
    VERSION_TAG,
    bind_metric,
    metric_backends,
    metric_registry,
    metric_version,
)
from solvers.base import Budget, Target, Task, solver_registry
from soundmatch.errors import UserError
from soundmatch.registry import Registry
from synths.base import Note, synth_registry

# ``synth.hold=auto``: on recorded suites each target's note-off is read from its loudness envelope
AUTO_HOLD = "auto"


def build(registry: Registry, node: DictConfig, **extra: Any) -> Any:
    """Instantiate ``registry[node.name]`` with the node's other keys as options."""
    options = OmegaConf.to_container(node, resolve=True)
    return registry.from_spec(options, f"the {registry.kind} config", **extra)


def without_auto_hold(node: DictConfig) -> DictConfig:
    """The synth's config with ``hold: auto`` as null (75% of the clip until a target says otherwise)."""
    if str(node.get("hold")) != AUTO_HOLD:
        return node
    node = node.copy()
    node.hold = None
    return node


def metric_options(cfg: DictConfig) -> dict[str, dict[str, Any]]:
    """``metric_options`` as plain dicts, per metric name."""
    options = OmegaConf.to_container(cfg.get("metric_options") or {}, resolve=True)
    assert isinstance(options, dict)
    return {str(k): dict(v or {}) for k, v in options.items()}


@dataclass
class RunSpec:
    """One configuration of ``run``: its parts, targets, budget, store and identity.

    ``metric_names`` are the per-target metrics (scored on each match); ``suite_metrics`` the
    suite-level ones (``fad``: every match at once, at the end), built with their options.
    ``tags`` are the tags every run of this invocation carries; ``params`` the flattened config.
    """

    solver_name: str
    synth: Any
    loss: Any
    solver: Any
    suite: Any
    targets: list[Target]
    context: SuiteContext
    budget: Budget
    metric_names: list[str]
    metric_options: dict[str, dict[str, Any]]
    suite_metrics: dict[str, Any]
    seed: int
    force: bool
    progress: bool
    plots: bool
    auto_hold: bool  # read each recorded target's note-off (``synth.hold=auto``)
    uri: str
    experiment: str
    results_dir: Path
    config_hash: str
    suite_name: str
    run_name: str
    params: dict[str, Any]
    tags: dict[str, str]

    @classmethod
    def from_config(cls, cfg: DictConfig) -> RunSpec:
        """Check ``cfg`` and the store, build every part, list the targets: a wrong name, value or
        store fails here in one line (:class:`UserError`), before any work."""
        check_run_config(cfg)
        results_dir = Path(cfg.results_dir)
        uri = resolve_uri(cfg.tracking.uri, results_dir)
        check_store(uri)
        torch.manual_seed(int(cfg.seed))  # before the parts are built: a solver may draw its weights
        synth = build(synth_registry, without_auto_hold(cfg.synth))
        loss = build(loss_registry, cfg.loss, sample_rate=int(cfg.sample_rate))
        solver = build(solver_registry, cfg.solver)
        suite = build(suite_registry, cfg.target)
        names = [str(m) for m in cfg.metrics]
        for m in names:
            metric_registry.get(m)  # an unknown metric fails before any work
        options = metric_options(cfg)
        suite_metrics = {
            m: metric_registry.create(m, **(options.get(m) or {}))
            for m in names
            if getattr(metric_registry.get(m), "suite_level", False)
        }
        per_target = [m for m in names if m not in suite_metrics]
        for m in per_target:
            bind_metric(m, options.get(m))  # an unknown option fails before any work
        note = Note(float(cfg.note.pitch), int(cfg.note.velocity))
        device = torch.device(cfg.device)
        context = SuiteContext(synth, int(cfg.sample_rate), float(cfg.duration), note, device)
        targets: list[Target] = suite.targets(context)
        if not targets:
            raise UserError(f"target suite '{cfg.target.name}' produced no targets; check its options")
        name = suite_id(cfg, suite)
        synth_config = synth_config_name(cfg)
        chash = config_hash(cfg)
        tags = {
            "soundmatch.solver": str(cfg.solver.name),
            "soundmatch.synth": str(cfg.synth.name),
            "soundmatch.dimension": str(synth.spec.dim),  # parameters searched (IOHprofiler's DIM)
            "soundmatch.synth_config": synth_config,
            "soundmatch.loss": str(cfg.loss.name),
            "soundmatch.suite": name,
            "soundmatch.suite_hash": suite_hash(cfg, suite.uses_synth),
            "soundmatch.config_hash": chash,
            "soundmatch.code_version": code_version(),
            "soundmatch.invocation": os.environ.get(INVOCATION_ENV, ""),
            OWNER_TAG: owner(),
            **{f"soundmatch.backend.{k}": v for k, v in metric_backends().items()},
            **{f"{VERSION_TAG}{m}": str(metric_version(m)) for m in names},
            **machine_tags(),
        }
        bench = cfg.get("bench") or {}
        if bench.get("suite"):
            tags["soundmatch.bench"] = f"{bench.suite}@{bench.hash}"
            tags["soundmatch.bench_task"] = str(bench.task)
        return cls(
            solver_name=str(cfg.solver.name),
            synth=synth,
            loss=loss,
            solver=solver,
            suite=suite,
            targets=targets,
            context=context,
            budget=Budget(cfg.budget.renders, cfg.budget.seconds),
            metric_names=per_target,
            metric_options=options,
            suite_metrics=suite_metrics,
            seed=int(cfg.seed),
            force=bool(cfg.force),
            progress=bool(cfg.progress),
            plots=bool(cfg.artifacts.plots),
            auto_hold=str(cfg.synth.get("hold")) == AUTO_HOLD and not suite.uses_synth,
            uri=uri,
            experiment=str(cfg.tracking.experiment),
            results_dir=results_dir,
            config_hash=chash,
            suite_name=name,
            run_name=f"{cfg.solver.name}-{synth_config}-{cfg.loss.name}-{name}",
            params=flatten(config_dict(cfg)),
            tags=tags,
        )

    @property
    def artifact_root(self) -> Path | None:
        """Where a new experiment's artifacts go on a local store (None: the server decides)."""
        local = self.uri.startswith("sqlite:") or self.uri.startswith("file:")
        return self.results_dir / "artifacts" if local else None

    def task(self) -> Task:
        """What a learning solver's ``fit`` sees: synth, loss, clip, note, device, its cache folder
        (``results_dir/cache``) and a loader for any suite (:func:`suite_loader`)."""
        ctx = self.context
        return Task(self.synth, self.loss, ctx.sample_rate, ctx.duration, ctx.note, ctx.device,
                    self.results_dir / "cache", suite_loader(ctx))  # fmt: skip


def suite_loader(context: SuiteContext) -> Callable[[dict[str, Any]], list[Target]]:
    """``load_suite(options) -> targets``: any suite, built from a config dict (``{"name":
    "dx7_presets", "path": ..., "split": "train"}``) and listed in ``context``."""

    def load_suite(options: dict[str, Any]) -> list[Target]:
        return build(suite_registry, OmegaConf.create(dict(options))).targets(context)

    return load_suite
