"""Waveform mean squared error."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from losses.base import Loss, loss_registry


@loss_registry.register("l2")
@dataclass
class L2(Loss):
    """``mean_t (pred - target)^2`` per item; unit: squared amplitude (full scale = 1)."""

    sample_rate: int = 16000

    def features(self, audio: Tensor) -> Tensor:
        return audio

    def compare(self, pred: Tensor, target_features: Tensor) -> Tensor:
        return (pred - target_features).square().mean(dim=-1)
