"""Typed, ranged checks of a run's top-level settings, before any work: one line naming the key.

Hydra takes ``seed=abc`` or ``duration=-1`` as given; without these checks they end
in a Python traceback deep in the run, or (``budget.renders=1e12``) run on for ever.
"""

from __future__ import annotations

import math
from typing import Any

from omegaconf import DictConfig, OmegaConf

from soundmatch.errors import UserError

MAX_RENDERS = 10_000_000  # about a day of dx7 renders on this machine's two cores
MAX_DURATION = 600.0  # seconds per clip
RATES = (1000, 192000)  # Hz


def _get(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=None)


def _number(cfg: DictConfig, key: str, *, integer: bool, low: float, high: float, hint: str) -> float | int:
    raw = _get(cfg, key)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise UserError(f"{key}={raw!r} is not a number; {hint}") from None
    if not math.isfinite(value) or not low <= value <= high or (integer and value != int(value)):
        kind = "a whole number" if integer else "a number"
        span = f"[{int(low)}, {int(high)}]" if integer else f"[{low:g}, {high:g}]"
        raise UserError(f"{key}={raw!r} is out of range; {kind} in {span} ({hint})")
    return int(value) if integer else value


def known_top_level_keys() -> set[str]:
    """The top-level keys of ``conf/config.yaml`` and its config groups."""
    from pathlib import Path

    import yaml

    conf = yaml.safe_load((Path(__file__).resolve().parent / "conf" / "config.yaml").read_text())
    groups = {next(iter(d)) for d in conf.get("defaults", []) if isinstance(d, dict)}
    return (set(conf) - {"defaults"}) | groups | {"hydra"}


def check_tracking_uri(uri: str | None) -> None:
    """A store that can be opened: sqlite in an existing folder, a server that answers, or a file URI."""
    if uri is None or str(uri) in ("", "None"):
        return
    uri = str(uri)
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise UserError(
            f"tracking.uri={uri!r} is not a URI; use sqlite:///PATH.db, http://HOST:PORT, or null for the "
            "store in results_dir"
        )
    if scheme == "sqlite":
        from pathlib import Path

        folder = Path(rest[1:] if rest.startswith("/") else rest).parent
        if not folder.is_dir():
            raise UserError(f"tracking.uri={uri}: the folder {folder} does not exist; create it first")
    elif scheme in ("http", "https"):
        import socket
        from urllib.parse import urlparse

        parsed = urlparse(uri)
        port = parsed.port or (443 if scheme == "https" else 80)
        try:
            socket.create_connection((parsed.hostname, port), timeout=5).close()
        except OSError as err:
            raise UserError(
                f"tracking.uri={uri}: nothing answers at {parsed.hostname}:{port} ({err.strerror or err}); "
                "start the server (python -m benchmark ui) or fix the address"
            ) from None


def check_results_dir(path: str) -> None:
    """``results_dir`` exists or can be made, and is writable."""
    import os
    from pathlib import Path

    folder = Path(str(path))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise UserError(f"results_dir={path}: cannot create it ({reason}); choose another folder") from None
    if not os.access(folder, os.W_OK):
        raise UserError(f"results_dir={path} is not writable; choose another folder")


def check_run_config(cfg: DictConfig) -> None:
    """Raise a UserError naming the first bad top-level value of a run's config."""
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
    for key in ("force", "progress"):
        if not isinstance(_get(cfg, key), bool):
            raise UserError(f"{key}={_get(cfg, key)!r}: expected true or false")
    check_results_dir(_get(cfg, "results_dir"))
    check_tracking_uri(_get(cfg, "tracking.uri"))
