"""Typed, ranged checks of a run's top-level settings, before any work: one line naming the key.

Hydra takes ``seed=abc`` or ``duration=-1`` as given; without these checks they end
in a Python traceback deep in the run, or (``budget.renders=1e12``) run on for ever.
"""

from __future__ import annotations

import math
from typing import Any

from omegaconf import DictConfig, OmegaConf

from benchmark.paths import CONF_DIR, writable_folder
from soundmatch.errors import UserError

MAX_RENDERS = 10_000_000  # about a day of dx7 renders on this machine's two cores
MAX_DURATION = 600.0  # seconds per clip
RATES = (1000, 192000)  # Hz


def _get(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=None)


def _number(cfg: DictConfig, key: str, *, integer: bool, low: float, high: float, hint: str) -> float | int:
    raw = _get(cfg, key)
    if isinstance(raw, bool):  # float(True) is 1.0: a yes/no where a count goes is a typo, not 1
        raise UserError(f"{key}={str(raw).lower()} is not a number; {hint}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise UserError(f"{key}={raw!r} is not a number; {hint}") from None
    if integer and isinstance(raw, str) and not raw.strip().lstrip("+-").isdigit():
        # Hydra hands "00." or "1e3" on as text: float() reads it, int() (and the run) would not
        raise UserError(f"{key}={raw!r} is not a whole number; {hint}")
    if not math.isfinite(value) or not low <= value <= high or (integer and value != int(value)):
        kind = "a whole number" if integer else "a number"
        span = f"[{int(low)}, {int(high)}]" if integer else f"[{low:g}, {high:g}]"
        raise UserError(f"{key}={raw!r} is out of range; {kind} in {span} ({hint})")
    return int(value) if integer else value


def known_top_level_keys() -> set[str]:
    """The top-level keys of ``conf/config.yaml`` and its config groups."""

    import yaml

    conf = yaml.safe_load((CONF_DIR / "config.yaml").read_text())
    groups = {next(iter(d)) for d in conf.get("defaults", []) if isinstance(d, dict)}
    return (set(conf) - {"defaults"}) | groups | {"hydra"}


def check_tracking_uri(uri: str | None) -> None:
    """A store that can be opened (:func:`benchmark.run.tracking.check_store`); null is results_dir's."""
    if uri is None or str(uri) in ("", "None"):
        return
    uri = str(uri)
    if "://" not in uri:
        raise UserError(
            f"tracking.uri={uri!r} is not a URI; use sqlite:///PATH.db, http://HOST:PORT, or null for the "
            "store in results_dir"
        )
    from benchmark.run.tracking import check_store

    check_store(uri)


def check_results_dir(path: str) -> None:
    """``results_dir`` exists or can be made, and is writable."""
    writable_folder(path, "results_dir")


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """The config with every interpolation resolved; a broken one (``${oops}``) is one line."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        data = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as err:
        first = str(err).strip().splitlines()[0]
        raise UserError(f"bad configuration: {first}") from None
    assert isinstance(data, dict)
    return data


def _text(cfg: DictConfig, key: str, hint: str) -> None:
    """A setting that names something (a folder, an experiment): any non-empty word, kept as text
    (``results_dir=3.5`` is the folder '3.5')."""
    from omegaconf import open_dict

    raw = _get(cfg, key)
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool) or str(raw) == "":
        raise UserError(f"{key}={raw!r}: {hint}")
    if not isinstance(raw, str):
        with open_dict(cfg):
            OmegaConf.update(cfg, key, str(raw))


def _matches(value: Any, kind: Any) -> bool:
    """Whether a config value fits a dataclass field's annotation (the basic types configs use)."""
    import types
    import typing

    origin = typing.get_origin(kind)
    if kind is Any or kind is object:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, k) for k in typing.get_args(kind))
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is str:
        return isinstance(value, str)
    if origin in (list, tuple) or kind in (list, tuple):
        args = typing.get_args(kind)
        inner = args[0] if args else Any
        return isinstance(value, (list, tuple)) and all(_matches(v, inner) for v in value)
    if origin is dict or kind is dict:
        return isinstance(value, dict)
    return True  # an annotation these checks do not know: the constructor decides


def _type_name(kind: Any) -> str:
    text = str(kind).replace("typing.", "").replace("<class '", "").replace("'>", "")
    return text.replace("NoneType", "null")


def check_option_types(group: str, factory: Any, options: dict[str, Any]) -> None:
    """Each option against the annotation of its dataclass field (components) or parameter
    (metric functions): one line naming the key, the value and the type expected
    (``solver.popsize=inf``: an int or null)."""
    import typing

    try:
        hints = typing.get_type_hints(factory)
    except Exception:  # noqa: BLE001 - unresolvable annotations: leave the check to the constructor
        return
    for key, value in options.items():
        if key in hints and key != "return" and not _matches(value, hints[key]):
            raise UserError(f"{group}.{key}={value!r}: expected {_type_name(hints[key])}")


BATCH_KEYS = ("popsize", "batch_size", "render_batch", "starts", "population")
DEFAULT_BATCH = 16  # what the search solvers render at once when their options do not say


def available_memory() -> int:
    """Bytes of memory free for a new allocation (MemAvailable; total memory where it is not known)."""
    import os

    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(data: dict[str, Any], synth: Any) -> None:
    """Refuse a render batch that cannot fit in memory, before any work: batch x samples x the
    synth's bytes per rendered sample with gradients and the loss (measured: fm2 and dx7 about 280,
    moog 330, harmonic_noise 1400 at batch 16 x 10 s)."""
    solver = data.get("solver") or {}
    sizes = [int(v) for k, v in solver.items() if k in BATCH_KEYS and isinstance(v, int) and v > 0]
    batch = max(sizes) if sizes else DEFAULT_BATCH
    samples = float(data["sample_rate"]) * float(data["duration"])
    need = batch * samples * getattr(synth, "bytes_per_sample", 400)
    free = available_memory()
    if need > free:
        raise UserError(
            f"a batch of {batch} renders of {data['duration']:g} s at {data['sample_rate']} Hz needs about "
            f"{need / 2**30:.1f} GiB and {free / 2**30:.1f} GiB are free; shorten duration=, lower "
            "sample_rate= or the solver's batch (e.g. solver.popsize=)"
        )


def check_components(cfg: DictConfig) -> None:
    """Build the synth, solver, target suite and loss from their options, and try the loss on a
    silent clip of the run's length, so a bad option is one line before any work."""
    import torch

    from benchmark.run.targets import suite_registry
    from losses.base import loss_registry
    from solvers.base import solver_registry
    from synths.base import synth_registry

    data = resolved(cfg)
    built = {}
    for group, registry in (("synth", synth_registry), ("solver", solver_registry),
                            ("target", suite_registry), ("loss", loss_registry)):  # fmt: skip
        options = dict(data[group]) if isinstance(data.get(group), dict) else {}
        name = options.pop("name", None)
        if group == "synth" and str(options.get("hold")) == "auto":
            options["hold"] = None  # read per target later
        if group == "loss":
            options["sample_rate"] = int(data["sample_rate"])
        if name is not None and str(name) in registry.names():
            check_option_types(group, registry.get(str(name)), options)
        try:
            built[group] = registry.create(str(name), **options)
        except UserError:
            raise
        except (TypeError, ValueError, KeyError, ArithmeticError) as err:
            raise UserError(f"{group}={name}: bad option ({err})") from None
    from metrics.base import metric_registry

    for metric, options in (data.get("metric_options") or {}).items():
        if str(metric) in metric_registry.names() and isinstance(options, dict):  # else: the runner says
            check_option_types(f"metric_options.{metric}", metric_registry.get(str(metric)), options)
    built["solver"].check_synth(built["synth"])
    check_memory(data, built["synth"])
    samples = min(int(round(float(data["sample_rate"]) * float(data["duration"]))), 65536)
    silent = torch.zeros(1, samples)
    noise = torch.rand(1, samples, generator=torch.Generator().manual_seed(0)) - 0.5
    try:
        with torch.no_grad():
            values = torch.cat([built["loss"](silent, silent), built["loss"](noise, silent)])
        problem = None if bool(torch.isfinite(values).all()) else f"it gives {values.tolist()} on test clips"
    except (TypeError, ValueError, RuntimeError, IndexError, ArithmeticError) as err:
        problem = str(err) or type(err).__name__
    if problem is not None:
        raise UserError(
            f"loss={data['loss'].get('name')} cannot compare {data['duration']:g}-s clips at "
            f"{data['sample_rate']} Hz ({problem}); lengthen duration= or change the loss's options"
        )


def check_run_config(cfg: DictConfig) -> None:
    """Raise a UserError naming the first bad value of a run's config."""
    resolved(cfg)
    unknown = sorted(set(cfg.keys()) - known_top_level_keys())
    if unknown:
        known = ", ".join(sorted(known_top_level_keys() - {"hydra"}))
        raise UserError(f"unknown config key '{unknown[0]}'; the top-level keys are: {known}")
    _number(cfg, "seed", integer=True, low=0, high=2**32 - 1, hint="e.g. seed=0")
    _number(cfg, "sample_rate", integer=True, low=RATES[0], high=RATES[1], hint="e.g. sample_rate=16000")
    _number(cfg, "duration", integer=False, low=1e-3, high=MAX_DURATION, hint="clip length in s, e.g. 1.0")
    _number(cfg, "note.pitch", integer=False, low=0, high=127, hint="a MIDI note, e.g. note.pitch=60")
    _number(cfg, "note.velocity", integer=True, low=1, high=127, hint="a MIDI velocity, e.g. 100")
    _number(cfg, "budget.renders", integer=True, low=1, high=MAX_RENDERS, hint="per target, e.g. 2000")
    if _get(cfg, "budget.seconds") is not None:
        _number(cfg, "budget.seconds", integer=False, low=1e-3, high=7 * 86400, hint="s per target, or null")
    device = str(_get(cfg, "device"))
    if device != "cpu" and not device.startswith("cuda"):
        raise UserError(f"device={device!r}: choose cpu or cuda (cuda:N)")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UserError(f"device={device}: this torch build or machine has no CUDA GPU; use device=cpu")
    for key in ("force", "progress", "artifacts.plots"):
        if not isinstance(_get(cfg, key), bool):
            raise UserError(f"{key}={_get(cfg, key)!r}: expected true or false")
    _text(cfg, "results_dir", "give a folder for the store and artifacts, e.g. results_dir=results")
    _text(cfg, "tracking.experiment", "give an experiment name, e.g. tracking.experiment=soundmatch")
    metrics = _get(cfg, "metrics")
    if not OmegaConf.is_list(metrics) or not all(isinstance(m, str) for m in metrics):
        raise UserError(f"metrics={metrics!r}: give a list of metric names, e.g. metrics=[lsd,mss]")
    check_results_dir(_get(cfg, "results_dir"))
    check_tracking_uri(_get(cfg, "tracking.uri"))
    check_components(cfg)
