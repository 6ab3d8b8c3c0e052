"""``python -m benchmark bench SUITE [--quick] [key=value ...]``: run a standard benchmark suite.

Every (task, solver) pair of the suite becomes one Hydra job config (the
experiment pattern: ``+bench_job=<task>__<solver>``, package ``_global_``), and
all of them run as one Hydra multirun (the suite's seeds swept with them), so
the same launchers serve: ``launcher=joblib`` (default, every local core),
``basic`` (in this process), ``slurm`` or ``ray_cluster``. Runs are the ordinary
runs of ``run``: idempotent by config hash, so an interrupted benchmark resumes
where it stopped, and tagged ``soundmatch.bench=<suite>@<hash>``.

A solver that cannot work on a task's synth (its ``check_synth`` refuses it:
a gradient solver on a black-box synth, a decoder built for another synth) is
not run there; its cell says ``n/a`` and why. Failed targets stay rows.

Written under ``<results_dir>/bench/<suite>[-quick]/``: ``table.md`` (solvers x
tasks, the ranking metric's mean and bootstrap 95% interval over targets),
``leaderboard.csv``, ``bench.json`` (suite hash, code version, machine, wall
time, command), ``plots/`` (scores, anytime curves, fixed-target ECDFs),
``iohprofiler/`` and ``report.html``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmark.bench.suite import BenchSuite, BenchTask, load_suite, merge
from benchmark.options import Option, boolean, integer, parse_options, split_key_values, text, usage, words
from soundmatch.errors import UserError

OPTIONS = [
    Option("solvers", words, None, "solvers to run, e.g. [cma,ga,random] (default: every registered one)"),
    Option("results_dir", text, "results", "the store, artifacts and the benchmark's tables"),
    Option("tracking.uri", text, None, "store URI (default sqlite:///<results_dir>/mlflow.db)"),
    Option("tracking.experiment", text, "soundmatch", "MLflow experiment"),
    Option(
        "launcher", text, "joblib", "Hydra launcher: joblib (local cores), basic (in-process), slurm, ..."
    ),
    Option("jobs", integer(1, 512), os.cpu_count() or 1, "parallel jobs of the joblib launcher"),
    Option("force", boolean, False, "run again what already finished in the store"),
    Option("quick", boolean, False, "the suite's quick variant (also --quick): a smoke test, not comparable"),
]
JOB_GROUP = "bench_job"


@dataclass
class Job:
    """One (task, solver) pair: its Hydra config name, or why the solver does not apply."""

    task: BenchTask
    solver: str
    name: str
    not_applicable: str | None = None


def job_config(suite: BenchSuite, task: BenchTask, solver: str) -> dict[str, Any]:
    """The ``_global_`` config of one job: the task's groups and keys, the solver, the suite's tag."""
    defaults = [{f"override /{g}": v} for g, v in task.groups.items()]
    body: dict[str, Any] = {"defaults": [{"override /solver": solver}, *defaults, "_self_"]}
    body = merge(body, task.config)
    if suite.solver_config.get(solver):
        body = merge(body, {"solver": suite.solver_config[solver]})
    body["metrics"] = list(suite.metrics)
    body["artifacts"] = {"plots": False}  # the bench's report draws the pictures it shows from the WAVs
    name = suite.name + ("-quick" if suite.quick else "")
    body["bench"] = {"suite": name, "hash": suite.hash, "task": task.name}
    return body


def write_jobs(suite: BenchSuite, solvers: list[str], root: Path) -> list[Job]:
    """One job config per (task, solver) under ``root/bench_job/``, a Hydra search path."""
    folder = root / JOB_GROUP
    folder.mkdir(parents=True, exist_ok=True)
    jobs = []
    for task in suite.tasks:
        for solver in solvers:
            name = f"{task.name}__{solver}"
            text = "# @package _global_\n" + yaml.safe_dump(job_config(suite, task, solver), sort_keys=False)
            (folder / f"{name}.yaml").write_text(text)
            jobs.append(Job(task, solver, name))
    return jobs


def compose_job(job: Job, searchpath: str, seed: int, store: list[str]):
    """The run config of ``job`` at ``seed``, composed as the multirun will compose it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from benchmark.paths import CONF_DIR

    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            overrides = [f"+{JOB_GROUP}={job.name}", f"seed={seed}", *store, searchpath]
            return compose("config", overrides=overrides)
    except Exception as err:
        lines = [ln for ln in str(err).splitlines() if ln.strip()]
        where = f"task {job.task.name} with solver {job.solver}"
        raise UserError(f"bench: {where}: {' '.join(lines[:2])}") from None
    finally:
        GlobalHydra.instance().clear()


def check_jobs(jobs: list[Job], searchpath: str, seeds: list[int], store: list[str]) -> set[str]:
    """Mark the jobs whose solver refuses the task's synth; check the others' configs (one line on
    the first bad one) and return the config hashes of every run the benchmark makes."""
    from benchmark.run.config_check import check_run_config
    from benchmark.run.identity import config_hash
    from benchmark.run.spec import build, without_auto_hold
    from solvers.base import solver_registry
    from synths.base import synth_registry

    hashes: set[str] = set()
    for job in jobs:
        cfg = compose_job(job, searchpath, seeds[0], store)
        synth = build(synth_registry, without_auto_hold(cfg.synth))
        try:
            build(solver_registry, cfg.solver).check_synth(synth)
        except UserError as err:
            job.not_applicable = str(err)
            continue
        check_run_config(cfg)
        for seed in seeds:
            cfg.seed = seed
            hashes.add(config_hash(cfg))
    return hashes


def cost_order(job: Job) -> tuple[int, int]:
    """Long jobs first, so the last ones to start are short (learned solvers train; real notes)."""
    from solvers.base import Solver, solver_registry

    learns = getattr(solver_registry.get(job.solver), "fit", Solver.fit) is not Solver.fit
    target = job.task.config.get("target") or {}
    size = int(job.task.renders or 1000) * int(target.get("n") or 12)
    return (-int(learns), -size)


def launch(jobs: list[Job], seeds: list[int], values: dict[str, Any], store: list[str], root: Path) -> int:
    from benchmark.run.app import run_cli

    runnable = sorted((j for j in jobs if j.not_applicable is None), key=cost_order)
    if not runnable:
        return 0
    args = ["-m", f"+{JOB_GROUP}={','.join(j.name for j in runnable)}", f"seed={','.join(map(str, seeds))}"]
    args += [*store, "progress=false"]
    if values["force"]:
        args.append("force=true")
    if values["launcher"] != "basic":
        args.append(f"hydra/launcher={values['launcher']}")
    if values["launcher"] == "joblib":
        args.append(f"hydra.launcher.n_jobs={values['jobs']}")
    return run_cli(args, search_paths=[root], summary=False)


def cell(row: Any, metric: str) -> str:
    mean = float(row.get(f"{metric}", math.nan))
    lo, hi = float(row.get(f"{metric}_lo", math.nan)), float(row.get(f"{metric}_hi", math.nan))
    if not math.isfinite(mean):
        return "failed"
    out = f"{mean:.3g}"
    if math.isfinite(lo) and math.isfinite(hi):
        out += f" [{lo:.3g}, {hi:.3g}]"
    failed = int(row.get("failed", 0) or 0)
    if failed:
        out += f" ({failed} of {int(row['n'])} failed)"
    return out


SEPARABLE_ALPHA = 0.05  # family-wise error per task (Holm over the task's solvers)


def results_table(
    suite: BenchSuite, jobs: list[Job], table: Any, separability: Any = None
) -> tuple[str, list[str]]:
    """Markdown: one row per solver, one column per task (the ranking metric's mean and 95% interval
    over targets); 'n/a' cells are explained in the returned notes. With ``separability``
    (:func:`benchmark.report.scoring.separable_from_best` per ``bench.task``) each task's best cell
    is bold and a cell not separable from it is marked "≈"."""
    tasks = [t.name for t in suite.tasks]
    solvers = list(dict.fromkeys(j.solver for j in jobs))
    rows = {(str(r["bench.task"]), str(r["solver"])): r for _, r in table.iterrows()}
    missing: dict[str, list[str]] = {}  # solver -> the tasks it does not apply to
    why: dict[str, str] = {}  # solver -> its own words for the first of them
    lines = [f"| solver | {' | '.join(tasks)} |", "|---" * (len(tasks) + 1) + "|"]
    by_pair = {(j.task.name, j.solver): j for j in jobs}
    marks: dict[tuple[str, str], str] = {}
    if separability is not None and len(separability):
        for _, r in separability.iterrows():
            mark = "best" if r["best"] else ("" if r["separable"] else "≈")
            marks[(str(r["bench.task"]), str(r["solver"]))] = mark
    for solver in solvers:
        cells = []
        for task in tasks:
            job = by_pair[(task, solver)]
            if job.not_applicable is not None:
                missing.setdefault(solver, []).append(task)
                why.setdefault(solver, job.not_applicable)
                cells.append("n/a")
            elif (task, solver) in rows:
                text = cell(rows[(task, solver)], suite.metric)
                mark = marks.get((task, solver), "")
                cells.append(f"**{text}**" if mark == "best" else f"{text} {mark}".rstrip())
            else:
                cells.append("not run")
        lines.append(f"| {solver} | {' | '.join(cells)} |")
    notes = [f"n/a: {s} does not apply to {', '.join(ts)} ({why[s]})" for s, ts in missing.items()]
    return "\n".join(lines), notes


PROGRESS_SECONDS = 60.0  # how often a running bench says how far it is


def progress_line(uri: str, experiment: str, label: str, jobs: int, started: float) -> str | None:
    """One line: how many of the bench's ``jobs`` (invocations) the store holds finished, its
    target runs finished and failed, and the minutes since ``started`` (``time.monotonic()``);
    None while the store has no experiment."""
    from benchmark.run.tracking import mlflow_client

    client = mlflow_client(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return None
    runs = client.search_runs(
        [exp.experiment_id], filter_string=f"tags.`soundmatch.bench` = '{label}'", max_results=50000
    )
    level = [(r.data.tags.get("soundmatch.level"), r.info.status) for r in runs]
    done = sum(lv == "invocation" and st == "FINISHED" for lv, st in level)
    finished = sum(lv == "target" and st == "FINISHED" for lv, st in level)
    failed = sum(lv == "target" and st in ("FAILED", "KILLED") for lv, st in level)
    minutes = (time.monotonic() - started) / 60.0
    return (f"bench {label}: {done} of {jobs} jobs done; {finished} target runs finished, {failed} failed "
            f"({minutes:.1f} min)")  # fmt: skip


def report_progress(uri: str, experiment: str, label: str, jobs: int, started: float, stop: Any) -> None:
    """Print :func:`progress_line` every ``PROGRESS_SECONDS`` until ``stop`` (a threading.Event) is set.
    Best effort: a store busy for a moment skips a line; the jobs themselves report the store's errors."""
    while not stop.wait(PROGRESS_SECONDS):
        try:
            line = progress_line(uri, experiment, label, jobs, started)
        except Exception:  # noqa: BLE001 - a progress line is not worth failing a bench over
            continue
        if line:
            print(line, flush=True)


def machine() -> str:
    """The machine in words, from the tags every run carries (:func:`benchmark.run.identity.machine_tags`)."""
    from benchmark.run.identity import machine_tags

    tags = {k.rsplit(".", 1)[-1]: v for k, v in machine_tags().items()}
    return (f"{tags['cpu']}, {tags['cores']} cores, torch {tags['torch']} on {tags['device']}, "
            f"Python {tags['python']}")  # fmt: skip


def bench(suite_name: str, values: dict[str, Any], command: str) -> int:
    from benchmark.run.tracking import require_store, resolve_uri

    started = time.monotonic()
    suite = load_suite(suite_name, quick=values["quick"])
    from solvers.base import solver_registry

    solvers = values["solvers"] or sorted(solver_registry.names())
    for name in solvers:
        solver_registry.get(name)  # an unknown solver: one line naming the registered ones
    store = [f"results_dir={values['results_dir']}", f"tracking.experiment={values['tracking.experiment']}"]
    if values["tracking.uri"]:
        store.append(f"tracking.uri={values['tracking.uri']}")
    from benchmark.run.app import write_plugin_configs

    root = write_plugin_configs(Path(tempfile.mkdtemp(prefix="soundmatch-bench-")))
    jobs = write_jobs(suite, solvers, root)
    searchpath = f"hydra.searchpath=[file://{root}]"
    hashes = check_jobs(jobs, searchpath, suite.seeds, store)
    skipped = [j for j in jobs if j.not_applicable]
    size = f"{len(suite.tasks)} tasks x {len(solvers)} solvers x {len(suite.seeds)} seed(s)"
    print(f"bench {suite.label}: {size}; {len(jobs) - len(skipped)} pairs run, {len(skipped)} not applicable")
    uri = resolve_uri(values["tracking.uri"], values["results_dir"])
    stop = threading.Event()
    invocations = (len(jobs) - len(skipped)) * len(suite.seeds)
    args = (uri, values["tracking.experiment"], suite.label, invocations, started, stop)
    watcher = threading.Thread(target=report_progress, args=args, daemon=True)
    watcher.start()
    try:
        code = launch(jobs, suite.seeds, values, store, root)
    finally:
        stop.set()
        watcher.join(timeout=5.0)
    wall = time.monotonic() - started
    require_store(uri, "bench")
    out = Path(values["results_dir"]) / "bench" / (suite.name + ("-quick" if suite.quick else ""))
    write_outputs(suite, jobs, hashes, uri, values, out, wall, command)
    return code


def write_outputs(
    suite: BenchSuite, jobs: list[Job], hashes: set[str], uri: str, values: dict[str, Any], out: Path,
    wall: float, command: str,
) -> None:  # fmt: skip
    from benchmark.report import html as report
    from benchmark.report import leaderboard
    from benchmark.report.ioh_export import write_iohprofiler
    from benchmark.run.identity import code_version

    out.mkdir(parents=True, exist_ok=True)
    lb = None
    if hashes:
        lb = leaderboard.compute(
            uri, values["tracking.experiment"], metric=suite.metric,
            metrics=[*dict.fromkeys([suite.metric, *suite.metrics, "renders", "seconds"])],
            group_by=["bench.task", "solver"], config_hashes=hashes,
        )  # fmt: skip
        lb.table.to_csv(out / "leaderboard.csv", index=False)
        histories = leaderboard.load_histories(uri, list(lb.runs["run_id"]))
        leaderboard.write_plots(lb, out / "plots", histories)
        write_iohprofiler(lb.runs, histories, ["solver"], out / "iohprofiler")
        page = report.render_page(
            lb, report.ArtifactCache(uri, out / ".artifacts"), 4, f"soundmatch benchmark {suite.label}"
        )
        (out / "report.html").write_text(page, encoding="utf-8")
    import pandas as pd

    separability = None
    if lb is not None:
        from benchmark.report.scoring import separable_from_best

        separability = separable_from_best(
            lb.runs, suite.metric, "solver", context=["bench.task"], alpha=SEPARABLE_ALPHA
        )
        separability.to_csv(out / "separability.csv", index=False)
    table, notes = results_table(suite, jobs, lb.table if lb is not None else pd.DataFrame(), separability)
    minutes = wall / 60
    header = (
        f"Suite `{suite.label}`, ranking metric `{suite.metric}` "
        f"(mean over targets [bootstrap 95% interval]); {len(suite.seeds)} seed(s); "
        f"bold: each task's best; ≈: not separable from it (two-sided Wilcoxon signed-rank over "
        f"targets, seeds averaged per target, Holm-corrected over the task's solvers, "
        f"alpha {SEPARABLE_ALPHA}; p-values in separability.csv); "
        f"{minutes:.0f} min wall on {machine()}; code {code_version()}.\n"
        f"Command: `{command}`\n"
    )
    body = header + "\n" + table + "\n" + "".join(f"\n{n}" for n in notes) + "\n"
    (out / "table.md").write_text(body)
    info = {
        "suite": suite.name, "quick": suite.quick, "hash": suite.hash, "label": suite.label,
        "tasks": {t.name: {"groups": t.groups, "config": t.config} for t in suite.tasks},
        "solvers": sorted({j.solver for j in jobs}),
        "not_applicable": {j.name: j.not_applicable for j in jobs if j.not_applicable},
        "code_version": code_version(), "machine": machine(), "wall_seconds": round(wall, 1),
        "command": command, "store": uri,
    }  # fmt: skip
    (out / "bench.json").write_text(json.dumps(info, indent=2) + "\n")
    print(table)
    for note in notes:
        print(note)
    print(f"wrote table.md, leaderboard.csv, separability.csv, bench.json, plots/, iohprofiler/, "
          f"report.html under {out}/ ({minutes:.1f} min)")  # fmt: skip


def bench_cli(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        from benchmark.bench.suite import SUITES_DIR

        shipped = ", ".join(sorted(p.stem for p in SUITES_DIR.glob("*.yaml")))
        print(__doc__.strip() + f"\n\nusage: python -m benchmark bench SUITE [--quick] [key=value ...]\n"
              f"suites: {shipped} (or a path to a suite .yaml)\n\noptions:\n" + usage(OPTIONS))  # fmt: skip
        return 0 if args else 2
    suite_name, rest = args[0], list(args[1:])
    quick = "--quick" in rest
    rest = [a for a in rest if a != "--quick"]
    values = parse_options(split_key_values(rest, "bench"), OPTIONS, "bench")
    values["quick"] = values["quick"] or quick
    command = "python -m benchmark bench " + " ".join(args)
    return bench(suite_name, values, command)
