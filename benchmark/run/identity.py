"""What a run is, in names and hashes: the config hash that makes sweeps resumable, the suite's
name and hash, the code version and the machine a time was measured on, a target's tags."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from benchmark.paths import CONF_DIR
from benchmark.run.presets import synth_preset
from solvers.base import Target
from soundmatch.registry import option_defaults

# config keys that do not change what a run solves (left out of its hash): where it is logged, how it
# is shown, and which metrics score it (adding a metric does not re-solve finished targets; force=true does)
NON_SEMANTIC_KEYS = ("tracking", "results_dir", "force", "progress", "hydra", "metrics", "metric_options")


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
    _, synth_name = suite_key(cfg, suite.uses_synth)
    if synth_name == str(cfg.synth.name):  # the run's synth renders the targets: name its preset
        synth_name = synth_config_name(cfg)
    options = OmegaConf.to_container(cfg.target, resolve=True)
    assert isinstance(options, dict)
    parts = [str(cfg.target.name)] + ([synth_name] if suite.uses_synth else [])
    for k in suite.label_keys:
        value = options.get(k)
        parts.append(f"{k}{value}" if isinstance(value, (int, float)) else _label_value(value))
    defaults = option_defaults(suite)
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


TARGET_TAGS = ("source", "pitch", "pitch_source", "velocity", "f0_hz", "f0_midi", "f0_backend")


def target_tags(target: Target) -> dict[str, str]:
    """What the suite read about a target (its file, note, where the note came from, the exact f0)
    as the tags ``soundmatch.target.<key>`` of its run."""
    meta = dict(target.meta or {})
    if target.note is not None:
        meta.setdefault("pitch", target.note.pitch)
        meta.setdefault("velocity", target.note.velocity)
    return {f"soundmatch.target.{k}": str(meta[k]) for k in TARGET_TAGS if meta.get(k) is not None}
