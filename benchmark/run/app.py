"""The ``run`` command: Hydra composition, validation of names, and the job function.

Before Hydra sees the command line, every choice of the ``solver``, ``synth``,
``loss`` and ``target`` groups is checked against the registries (so an unknown
name is one clear line, not a Hydra traceback), and registry entries that ship
no YAML (plugins) get a generated config from their constructor's defaults.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from benchmark.options import did_you_mean
from benchmark.paths import CONF_DIR
from benchmark.run.group_yaml import group_yaml
from benchmark.run.targets import suite_registry
from losses.base import loss_registry
from solvers.base import solver_registry
from soundmatch.errors import UserError
from soundmatch.registry import Registry
from synths.base import synth_registry

FAILURES_ENV = "SOUNDMATCH_FAILURES"  # where the jobs of one invocation list their failed targets
JOBS_ENV = "SOUNDMATCH_JOBS"  # where the jobs of one sweep list their config hashes
QUIET_ENV = "SOUNDMATCH_NO_JOB_TABLES"  # set: jobs print no per-target table (bench prints one table)

GROUPS: dict[str, Registry] = {
    "solver": solver_registry,
    "synth": synth_registry,
    "loss": loss_registry,
    "target": suite_registry,
}


def preset_names(group: str) -> set[str]:
    """Names of the YAML presets shipped in ``conf/<group>/``."""
    return {p.stem for p in (CONF_DIR / group).glob("*.yaml")}


def group_choices(group: str) -> list[str]:
    return sorted(preset_names(group) | set(GROUPS[group].names()))


def write_plugin_configs(root: Path) -> Path:
    """YAML for registry entries without a preset, under ``root/<group>/<name>.yaml``, made from
    their code defaults as the builtin files are (:func:`benchmark.run.group_yaml.group_yaml`)."""
    for group, registry in GROUPS.items():
        presets = preset_names(group)
        for name in registry.names():
            if name in presets:
                continue
            folder = root / group
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}.yaml").write_text(group_yaml(name, registry.get(name)))
    return root


def check_overrides(args: list[str]) -> list[str]:
    """Validate group choices in ``args``; return one override list with each sweep's first value."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    overrides = [a for a in args if "=" in a and not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except OverrideParseException as err:
        raise UserError(f"bad override: {str(err).splitlines()[0]}") from None
    first: list[str] = []
    for ov, text in zip(parsed, overrides, strict=True):
        key = ov.key_or_group
        if ov.is_sweep_override():
            values = list(ov.sweep_string_iterator())
        else:
            values = [ov.get_value_element_as_str()] if ov.value() is not None else []
        if key in GROUPS and ov.package is None:
            choices = group_choices(key)
            for value in values:
                if value not in choices:
                    kind = GROUPS[key].kind
                    broken = GROUPS[key].broken(value)
                    if broken is not None:
                        raise UserError(f"{broken}; fix or uninstall it")
                    raise UserError(
                        f"unknown {kind} '{value}'; available: {', '.join(choices)} "
                        f"(see `python -m benchmark list`)"
                    )
        first.append(f"{text.split('=', 1)[0]}={values[0]}" if ov.is_sweep_override() else text)
    return first


def compose_check(overrides: list[str], searchpath: str) -> DictConfig:
    """Compose the config once (first value of every sweep) so config errors are one line; a key
    that is not in the config is named with the nearest one that is."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            return compose("config", overrides=[*overrides, searchpath])
    except Exception as err:  # Hydra/OmegaConf config errors, reported as the user's
        lines = [ln for ln in str(err).splitlines() if ln.strip()]
        unknown = re.match(r"Could not override '([^']+)'", lines[0] if lines else "")
        if unknown:
            key = unknown.group(1)
            rest = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") != key]
            raise UserError(
                f"unknown config key '{key}'{did_you_mean(key, config_keys(rest, searchpath))}; "
                "`python -m benchmark run --help` lists the keys"
            ) from None
        raise UserError(f"bad configuration: {' '.join(lines[:2])}") from None
    finally:
        GlobalHydra.instance().clear()


def config_keys(overrides: list[str], searchpath: str) -> list[str]:
    """Every dotted key of the config composed from ``overrides`` (none when that fails too)."""
    from benchmark.run.tracking import flatten

    try:
        cfg = compose_check(overrides, searchpath)
    except UserError:
        return []
    return list(flatten(OmegaConf.to_container(cfg, resolve=False)))


def shared_group_options(args: list[str], searchpath: str) -> list[str]:
    """``args`` with the options of a swept group (``solver.lr=0.01`` beside ``solver=adam,sgd``)
    written ``++solver.lr=0.01``: Hydra would apply them to the group's default before the sweep
    chooses, and fail. Each swept choice must have the option; else one line says which lack it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = [a for a in args if "=" in a and not a.startswith("-")]
    parsed = dict(zip(overrides, OverridesParser.create().parse_overrides(overrides), strict=True))
    swept = {
        ov.key_or_group: list(ov.sweep_string_iterator())
        for ov in parsed.values()
        if ov.key_or_group in GROUPS and ov.package is None and ov.is_sweep_override()
    }
    if not swept:
        return args
    out = []
    for arg in args:
        ov = parsed.get(arg)
        group = None if ov is None else ov.key_or_group.split(".", 1)[0]
        if ov is None or group not in swept or "." not in ov.key_or_group or arg[0] in "+~":
            out.append(arg)
            continue
        key = ov.key_or_group
        lacking = [v for v in swept[group] if key not in config_keys([f"{group}={v}"], searchpath)]
        if lacking:
            raise UserError(
                f"{key} is not an option of {group}={','.join(lacking)}; sweep the {group}s that take "
                f"it apart from those that do not (`python -m benchmark list` shows each one's options)"
            )
        out.append(f"++{arg}")
    return out


def help_text() -> str:
    """``run --help``: the keys with their defaults and units (config.yaml, comments kept) and the
    names each config group takes, plugins included."""
    body = (CONF_DIR / "config.yaml").read_text().split("\nhydra:", 1)[0].rstrip()
    groups = "\n".join(f"  {g + '=':<8} {', '.join(group_choices(g))}" for g in GROUPS)
    return (
        "usage: python -m benchmark run [-m] [key=value ...]\n\n"
        "Run one solver on one synth, loss and target suite under a budget (Hydra overrides; -m sweeps\n"
        "comma lists, e.g. solver=cma,ga). Every key below can be set; a group's options are\n"
        "group.key=value (solver.sigma0=0.2); `python -m benchmark list name=cma` lists one choice's\n"
        "options with their defaults and meanings.\n\n"
        f"groups (choices, plugins included):\n{groups}\n\n"
        "launchers: hydra/launcher=joblib (local cores), slurm, ray_cluster\n\n"
        f"keys and defaults (benchmark/conf/config.yaml):\n{body}\n"
    )


def run_cli(
    args: list[str],
    search_paths: Sequence[Path] = (),
    summary: bool = True,
    after_sweep: Callable[[DictConfig, set[str]], None] | None = None,
    composed: Callable[[DictConfig], None] | None = None,
) -> int:
    """``python -m benchmark run [overrides]``: validate, then hand over to Hydra.

    ``search_paths``: more config folders (``bench`` adds its job configs); ``summary``: each job
    prints its table; ``after_sweep(cfg, config_hashes)``: called after a sweep (``-m``) with the
    config hashes of its jobs, resumed ones included (the CLI prints their combined table);
    ``composed(cfg)``: called with the checked config (a sweep's first job) before anything runs,
    so a caller that reads the run's results needs no composition of its own."""
    if any(a in ("-h", "--help") for a in args):
        print(help_text())
        return 0
    plugin_root = Path(tempfile.mkdtemp(prefix="soundmatch-conf-"))
    write_plugin_configs(plugin_root)
    roots = ",".join(f"file://{p}" for p in [plugin_root, *search_paths])
    searchpath = f"hydra.searchpath=[{roots}]"
    check_overrides(args)  # a malformed override or an unknown name: one line, before anything reads them
    args = shared_group_options(list(args), searchpath)
    cfg = compose_check(check_overrides(args), searchpath)
    from benchmark.run.config_check import check_run_config

    check_run_config(cfg)  # the first job's values; each job checks its own again
    if composed is not None:
        composed(cfg)
    from benchmark.run.tracking import check_store, quiet_mlflow, resolve_uri

    quiet_mlflow()
    check_store(resolve_uri(cfg.tracking.uri, cfg.results_dir))  # a store that would lose or hang: now
    sys.argv = [sys.argv[0] or "benchmark", *args, searchpath]
    from benchmark.run.tracking import INVOCATION_ENV, end_interrupted

    os.environ[INVOCATION_ENV] = uuid.uuid4().hex  # inherited by the sweep's local workers
    # every job (in this process or a local worker) appends its failed targets here
    failures = plugin_root / "failures.txt"
    os.environ[FAILURES_ENV] = str(failures)
    jobs = plugin_root / "jobs.txt"
    os.environ[JOBS_ENV] = str(jobs)
    quiet = os.environ.get(QUIET_ENV)
    if not summary:
        os.environ[QUIET_ENV] = "1"  # inherited by the sweep's local workers
    try:
        _hydra_main()
    except KeyboardInterrupt:
        # parallel workers may have been killed before they could end their runs KILLED
        uri = resolve_uri(cfg.tracking.uri, cfg.results_dir)
        end_interrupted(uri, str(cfg.tracking.experiment), os.environ[INVOCATION_ENV])
        raise
    finally:
        if quiet is None:
            os.environ.pop(QUIET_ENV, None)
    if after_sweep is not None and ("-m" in args or "--multirun" in args) and jobs.exists():
        after_sweep(cfg, set(jobs.read_text().split()))
    lines = failures.read_text().splitlines() if failures.exists() else []
    if lines:
        print(f"error: {len(lines)} target run(s) FAILED (finished ones are kept in the store):",
              file=sys.stderr)
        for line in lines:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


@hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="config")
def _hydra_main(cfg: DictConfig) -> None:
    from benchmark.run.runner import run
    from benchmark.run.summary import print_summary
    from benchmark.run.tracking import storage_problem

    try:
        outcome = run(cfg)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as err:
        problem = storage_problem(err)  # e.g. the store's disk filled before any target ran
        if problem is None:
            raise
        print(f"error: cannot write the store or results: {problem}; free space or choose another "
              "results_dir= / tracking.uri=", file=sys.stderr)  # fmt: skip
        raise SystemExit(2) from None
    if not os.environ.get(QUIET_ENV):
        print_summary(cfg, outcome)
    if os.environ.get(JOBS_ENV):
        from benchmark.run.identity import config_hash

        with open(os.environ[JOBS_ENV], "a") as fh:
            fh.write(f"{config_hash(cfg)}\n")
    if outcome.failure_lines and os.environ.get(FAILURES_ENV):
        job = f"{cfg.solver.name} on {cfg.synth.name} seed={cfg.seed}"
        with open(os.environ[FAILURES_ENV], "a") as fh:
            fh.writelines(f"{job}, {name}: {line}\n" for name, line in outcome.failure_lines.items())
