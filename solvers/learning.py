"""Shared by solvers that learn: the key of a training configuration and its on-disk cache.

A fit is identified by the solver's own options plus everything about the task
that changes what is learnt (synth and its options, sample rate, duration,
note). The cache lives under ``Task.cache_dir/<solver>/<key>.pt``; files are
written to a temporary name and renamed, so parallel workers of a sweep never
read half a file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from solvers.base import Problem, Target, Task, solver_registry
from soundmatch.errors import UserError


def options_of(obj: Any) -> dict[str, Any]:
    """The dataclass fields of a solver or synth (its config options) as plain data."""
    if dataclasses.is_dataclass(obj):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if not f.name.startswith("_")}
    return {}


def fit_key(solver: Any, task: Task, *extra: Any, solve_only: tuple[str, ...] = ()) -> str:
    """sha1 (16 hex digits) of the solver's options and the task's synth, rate, duration and note.

    ``solve_only`` names options that change only how targets are solved (not what
    is learnt), so runs that differ in them share one fit.
    """
    note = None if task.note is None else [task.note.pitch, task.note.velocity]
    options = {k: v for k, v in options_of(solver).items() if k not in solve_only}
    data = {
        "solver": [type(solver).__name__, options],
        "synth": [task.synth.name, options_of(task.synth)],
        "sample_rate": task.sample_rate,
        "duration": task.duration,
        "note": note,
        "extra": list(extra),
    }
    blob = json.dumps(data, sort_keys=True, default=repr).encode()
    return hashlib.sha1(blob).hexdigest()[:16]


def cached_fit(
    task: Task, solver_name: str, key: str, train: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """Load the fit stored under ``key``, or run ``train()`` and store what it returns.

    ``train`` returns a dict of tensors and plain values (``torch.save``-able).
    Returns ``(state, from_cache)``. Without ``task.cache_dir`` nothing is stored.
    """
    path = None if task.cache_dir is None else Path(task.cache_dir) / solver_name / f"{key}.pt"
    if path is not None and path.exists():
        return torch.load(path, map_location="cpu", weights_only=True), True
    state = train()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        torch.save(state, tmp)
        os.replace(tmp, path)
    return state, False


def training_metrics(state: dict[str, Any], fit_seconds: float, from_cache: bool) -> dict[str, float]:
    """Run metrics of a training ``state`` from :func:`cached_fit`: the training's renders,
    seconds and final loss (where it has one), this fit's seconds, and whether it came
    from the cache."""
    metrics = {
        "training_renders": float(state["training_renders"]),
        "training_seconds": float(state["training_seconds"]),
        "fit_seconds": float(fit_seconds),
        "fit_from_cache": float(from_cache),
    }
    if "final_loss" in state:
        metrics["training_final_loss"] = float(state["final_loss"])
    return metrics


class Stopwatch:
    """Seconds since creation (``stopwatch.seconds``)."""

    def __init__(self) -> None:
        self._t0 = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self._t0


def render_batches(task: Task, params: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Render ``params[N, D]`` with the task's synth and note in batches (no gradients), ``[N, T]`` on CPU."""
    out = []
    device = torch.device(task.device)
    with torch.no_grad():
        for i in range(0, params.shape[0], batch_size):
            chunk = params[i : i + batch_size].to(device)
            audio = task.synth.render(
                chunk, sample_rate=task.sample_rate, duration=task.duration, note=task.note
            )
            out.append(audio.cpu())
    return torch.cat(out)


def refine_from(problem: Problem, refine: str, options: dict[str, Any], x0: torch.Tensor) -> dict[str, Any]:
    """Go on from starting points ``x0[K, D]`` with the registered solver ``refine`` (one that takes
    ``solve(problem, x0=...)``: cma, adam ...) for the rest of the budget; its info."""
    refiner = solver_registry.create(refine, **options)
    if "x0" not in inspect.signature(refiner.solve).parameters:
        raise UserError(f"solver.refine='{refine}' takes no starting points (x0); use one that does, "
                        "such as cma or adam")  # fmt: skip
    result = refiner.solve(problem, x0=x0)
    return dict(result.info) if result is not None else {}


def corpus_digest(folder: Path) -> str:
    """sha1 of every ``.syx`` file under ``folder``: its path there and its bytes (a preset corpus's
    content, in the key of what is learnt from it)."""
    digest = hashlib.sha1()
    for path in sorted(folder.rglob("*.syx")) if folder.is_dir() else []:
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    """sha1 (16 hex digits) of a trained network's weights, in name order: the checkpoint's identity."""
    digest = hashlib.sha1()
    for name in sorted(state):
        digest.update(name.encode() + b"\0" + state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def unseen(targets: list[Target], trained: torch.Tensor) -> list[Target]:
    """The targets whose ground-truth parameters are none of ``trained[N, D]`` (those without
    parameters, or of another dimension, are kept): a target that was learnt from is not scored."""
    kept = []
    for t in targets:
        x = None if t.params is None else t.params.reshape(-1).float()
        if x is None or x.numel() != trained.shape[1] or float((trained - x).abs().amax(dim=1).min()) > 1e-6:
            kept.append(t)
    return kept
