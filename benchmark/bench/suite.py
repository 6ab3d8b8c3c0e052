"""A benchmark suite: a fixed, versioned list of tasks, each a full run configuration but the solver.

A suite is a YAML file (``benchmark/bench/suites/<name>.yaml``, or any path) holding

- ``name``, ``description``, the ranking ``metric`` and the ``metrics`` every run logs;
- ``metric_versions``: the version of each metric's definition the suite was made with (1 where a
  metric is not named; :func:`metrics.base.metric_version`). Code whose metric has another version
  cannot run the suite: a changed metric makes a new suite version, as a changed task does;
- ``seeds``: the solver seeds each (task, solver) pair runs at;
- ``defaults``: run configuration shared by every task (loss, rate, clip length, budget ...);
- ``tasks``: name -> ``synth`` (any synth or preset), ``target`` (a target suite) and ``config``
  (any run keys, nested: ``{target: {n: 8}}``), over the defaults;
- ``solver_config``: options fixed for a solver on every task (a learned solver's training budget);
- ``quick``: the smoke-test variant (fewer targets, renders, metrics and training steps; its
  scores are not comparable with the full suite's);
- ``hash``: the first 12 hex digits of the SHA-256 of everything above but ``quick``, in canonical
  JSON (the quick variant is labelled with the hash of everything, ``quick`` included).

The hash is checked on load: a suite whose content changed without a new name and hash is refused,
so a table that names ``v1@<hash>`` always means the same tasks. Changing a task makes a new version.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from metrics.base import metric_version
from soundmatch.errors import UserError

SUITES_DIR = Path(__file__).resolve().parent / "suites"
GROUPS = ("synth", "target", "loss")  # a task's config groups, chosen by name (presets included)


@dataclass(frozen=True)
class BenchTask:
    """One task: the run configuration every solver of the suite is run on."""

    name: str
    groups: dict[str, str]  # synth / target / loss -> config name
    config: dict[str, Any]  # other run keys, nested (budget, target options, clip length ...)

    @property
    def renders(self) -> int | None:
        return (self.config.get("budget") or {}).get("renders")


@dataclass(frozen=True)
class BenchSuite:
    name: str
    description: str
    hash: str
    metric: str
    metrics: list[str]
    seeds: list[int]
    tasks: list[BenchTask]
    solver_config: dict[str, dict[str, Any]] = field(default_factory=dict)
    quick: bool = False

    @property
    def label(self) -> str:
        """``v1@3f2a..`` (``v1-quick@..`` for the quick variant): what every run of it is tagged with."""
        return f"{self.name}{'-quick' if self.quick else ''}@{self.hash}"


def content_hash(body: dict[str, Any], quick: bool = False) -> str:
    """SHA-256 (12 hex digits) of a suite's content as canonical JSON: all but ``hash`` and ``name``,
    and but ``quick`` unless ``quick`` (the label of the quick variant)."""
    skip = ("hash", "name") if quick else ("hash", "name", "quick")
    content = {k: v for k, v in body.items() if k not in skip}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``, nested mappings key by key."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def suite_path(name: str) -> Path:
    """The file of a shipped suite (``v1``) or a path to one (``my_suite.yaml``)."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise UserError(f"bench: no suite file {path}")
        return path
    shipped = SUITES_DIR / f"{name}.yaml"
    if not shipped.is_file():
        names = ", ".join(sorted(p.stem for p in SUITES_DIR.glob("*.yaml")))
        raise UserError(f"bench: unknown suite '{name}'; shipped suites: {names} (or give a .yaml path)")
    return shipped


def check_metric_versions(path: Path, pinned: dict[str, Any], names: list[str]) -> None:
    """Refuse a suite whose metrics' pinned versions are not this code's (1 where not pinned)."""
    for name in names:
        want, have = int(pinned.get(name, 1)), metric_version(name)
        if want != have:
            newer = sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))
            raise UserError(
                f"bench: suite {path.name} was made with {name} version {want}; this code computes version "
                f"{have}, whose values are not comparable. Run a suite made with it (shipped: "
                f"{', '.join(newer)}), or check out the code of the suite's tables"
            )


def load_suite(name: str, quick: bool = False) -> BenchSuite:
    """Read and check a suite; ``quick`` gives its smoke-test variant."""
    path = suite_path(name)
    try:
        body = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise UserError(f"bench: {path} is not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(body, dict) or not isinstance(body.get("tasks"), dict) or not body["tasks"]:
        raise UserError(f"bench: {path} holds no tasks (a mapping 'tasks: {{name: {{synth: ..}}}}')")
    actual = content_hash(body)
    if body.get("hash") != actual:
        raise UserError(
            f"bench: suite {path.name} says hash {body.get('hash')!r} but its content hashes to {actual!r}: "
            "a changed suite is a new version; give it a new name and set hash: " + actual
        )
    try:
        return _parse(path, body, actual, quick)
    except (TypeError, ValueError, AttributeError) as err:  # a value of the wrong kind somewhere
        raise UserError(
            f"bench: {path.name} is malformed ({type(err).__name__}: {err}); keep the layout of a shipped "
            f"suite (e.g. {SUITES_DIR / 'v1.3.yaml'}): tasks and solver_config map names to mappings, "
            "seeds are whole numbers"
        ) from None


def _parse(path: Path, body: dict[str, Any], actual: str, quick: bool) -> BenchSuite:
    """The suite of a YAML body whose hash was checked (errors of kind raise as they are)."""
    for task_name, spec in body["tasks"].items():
        if spec is not None and not isinstance(spec, dict):
            raise TypeError(f"task '{task_name}' is {type(spec).__name__}, not a mapping")
    defaults = body.get("defaults") or {}
    solver_config = {k: dict(v) for k, v in (body.get("solver_config") or {}).items()}
    metric = str(body.get("metric", "match_distance"))
    metrics = [str(m) for m in body.get("metrics", [metric])]
    check_metric_versions(path, body.get("metric_versions") or {}, sorted({metric, *metrics}))
    seeds = [int(s) for s in body.get("seeds", [0])]
    tasks = []
    for task_name, spec in body["tasks"].items():
        spec = merge(defaults, spec or {})
        groups = {g: str(spec[g]) for g in GROUPS if g in spec}
        if "synth" not in groups or "target" not in groups:
            raise UserError(f"bench: task '{task_name}' of {path.name} needs a synth and a target")
        tasks.append(BenchTask(str(task_name), groups, dict(spec.get("config") or {})))
    if quick:
        q = body.get("quick") or {}
        seeds = [int(s) for s in q.get("seeds", seeds[:1])]
        solver_config = merge(solver_config, q.get("solver_config") or {})
        metrics = [str(m) for m in q.get("metrics", metrics)]
        shrunk = {"budget": {"renders": int(q.get("renders", 40))}, "target": {"n": int(q.get("targets", 2))}}
        tasks = [BenchTask(t.name, t.groups, merge(t.config, shrunk)) for t in tasks]
    return BenchSuite(
        name=str(body.get("name", path.stem)),
        description=str(body.get("description", "")).strip(),
        hash=content_hash(body, quick=True) if quick else actual,
        metric=metric,
        metrics=metrics,
        seeds=seeds,
        tasks=tasks,
        solver_config=solver_config,
        quick=quick,
    )
