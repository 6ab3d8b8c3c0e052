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

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from soundmatch.registry import Registry

loss_registry: Registry = Registry("loss", "soundmatch.losses", package="metrics")
metric_registry: Registry = Registry("metric", "soundmatch.metrics", package="metrics")


class Loss(ABC):
    """A differentiable distance between audio batches.

    Subclasses are dataclasses whose fields are config options; every loss
    accepts ``sample_rate`` (Hz) so the harness can pass it uniformly.
    """

    sample_rate: int

    @abstractmethod
    def features(self, audio: Tensor) -> Any:
        """Features of ``audio[B, T]`` that :meth:`compare` needs (for targets: computed once)."""

    @abstractmethod
    def compare(self, pred: Tensor, target_features: Any) -> Tensor:
        """Loss of ``pred[B, T]`` against precomputed target features, ``[B]``."""

    def __call__(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.compare(pred, self.features(target))

    def bind(self, target: Tensor) -> Callable[[Tensor], Tensor]:
        """A callable ``pred[B, T] -> [B]`` with ``target[1|B, T]``'s features cached."""
        with torch.no_grad():
            feats = self.features(target)
        return lambda pred: self.compare(pred, feats)


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
