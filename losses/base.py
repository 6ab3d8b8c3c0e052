"""The loss contract and its registry.

A *loss* is differentiable and batched: ``loss(pred[B, T], target[B|1, T]) -> [B]``.
Its target-side features (spectrograms ...) are computed once with
:meth:`Loss.bind`, so a solver that evaluates thousands of candidates against one
target never recomputes them. Evaluation-only metrics are in :mod:`metrics`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from soundmatch.registry import Registry

loss_registry: Registry = Registry("loss", "soundmatch.losses", package="losses")


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
