"""Loss and metric contracts and their registries.

A *loss* is differentiable and batched: ``loss(pred[B, T], target[B|1, T]) -> [B]``.
Its target-side features (spectrograms ...) are computed once with
:meth:`Loss.bind`, so a solver that evaluates thousands of candidates against one
target never recomputes them.

A *metric* is evaluation-only: ``metric(Evaluation) -> float | None`` (None when
it does not apply, e.g. parameter error on a real recording). Every metric's
docstring gives its formula and unit. A *suite-level* metric (a class with
``suite_level = True``, e.g. ``fad``) is built once per run with the options in
``metric_options.<name>`` and called as ``metric(preds, targets, sample_rate)``
with every match and target of the run (lists of mono arrays); the runner logs
it on the parent run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from soundmatch.registry import Registry

metric_registry: Registry = Registry("metric", "soundmatch.metrics", package="metrics")


@dataclass
class Evaluation:
    """Everything a metric may look at for one match.

    ``pred`` and ``target`` are mono float32 arrays ``[T]`` at ``sample_rate`` Hz;
    parameter vectors are in the unit cube ``[D]`` (target ones only for synthetic
    targets). ``note_hz`` is the pitch the synth played, when known.
    """

    pred: np.ndarray
    target: np.ndarray
    sample_rate: int
    pred_params: np.ndarray | None = None
    target_params: np.ndarray | None = None
    note_hz: float | None = None


def versioned(version: int) -> Callable[[Callable], Callable]:
    """Decorator: the version of a metric's definition (1 when not given). A change that can move
    any value makes a new version; runs log it (``soundmatch.metric_version.<name>``), bench suites
    pin it, and ``rescore`` recomputes values logged under an older one."""

    def mark(fn: Callable) -> Callable:
        fn.version = int(version)  # type: ignore[attr-defined]
        return fn

    return mark


def metric_version(name: str) -> int:
    """The version of registered metric ``name``'s definition in this code."""
    return int(getattr(metric_registry.get(name), "version", 1))


DEFAULT_METRIC = "match_distance"  # ranks every table (run, sweep, leaderboard) unless one is named
VERSION_TAG = "soundmatch.metric_version."  # + a metric name: the run tag of the version it was scored with


def bind_metric(name: str, options: dict[str, Any] | None = None) -> Callable[[Evaluation], float | None]:
    """``metric_registry[name]`` with its ``metric_options.<name>`` keyword options applied.

    Every per-match metric is a function ``metric(ev, **options)``; an option it
    does not take is one clear line naming the metric and the options it has.
    """
    import functools
    import inspect

    fn = metric_registry.get(name)
    options = dict(options or {})
    if not options:
        return fn
    accepted = [p for p in inspect.signature(fn).parameters if p != "ev"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        from soundmatch.errors import UserError

        has = ", ".join(accepted) if accepted else "none"
        raise UserError(
            f"metric_options.{name}.{unknown[0]}: metric '{name}' has no such option (options: {has})"
        )
    return functools.partial(fn, **options)


def metric_backends() -> dict[str, str]:
    """Which implementation each backend-dependent metric uses on this machine (to log with values)."""
    from analysis.pitch import resolve_backend

    return {"pitch": resolve_backend("auto")}
