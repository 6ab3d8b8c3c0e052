"""DiffMoog's cumulative-sum spectral losses ("Wasserstein" in time and in frequency), as published.

Uzrad et al. (2024) compare cumulative sums of power spectrograms with an L1
(or L2) norm, per FFT size, and add the terms up over six FFT sizes. The
spectrograms are not normalised, so these are not Wasserstein distances between
probability distributions (``spectral_ot`` is); they are reproduced here so the
published numbers can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor

from losses.base import Loss, loss_registry
from losses.fast_stft import stft_power_fast as stft_power
from soundmatch.errors import UserError


@dataclass
class _CumulativeSpectral(Loss):
    """Sum over FFT sizes n of ``mean |cumsum(P_pred) - cumsum(P_target)|`` along one axis.

    P is the power spectrogram ``|X|^2`` (Hann window of n samples, hop n * hop_ratio,
    centred, reflect padding: torchaudio's Spectrogram with power=2, DiffMoog's
    ``frame_overlap: 0.75``); ``norm: l2`` squares the differences instead. Unit:
    power (full-scale sine -> (n/4)^2 per bin) accumulated over bins or frames.
    """

    sample_rate: int = 16000
    fft_sizes: list[int] = field(default_factory=lambda: [2048, 1024, 512, 256, 128, 64])
    hop_ratio: float = 0.25
    norm: str = "l1"

    axis: ClassVar[int] = -1  # -1: frames (time), -2: bins (frequency)

    def __post_init__(self) -> None:
        if self.norm not in ("l1", "l2"):
            raise UserError(f"loss.norm must be 'l1' or 'l2', got '{self.norm}'")

    def _cumulative(self, audio: Tensor, n_fft: int) -> Tensor:
        power = stft_power(audio, n_fft, max(1, int(n_fft * self.hop_ratio)))
        return torch.cumsum(power, dim=self.axis)

    def features(self, audio: Tensor) -> list[Tensor]:
        return [self._cumulative(audio, n) for n in self.fft_sizes]

    def compare(self, pred: Tensor, target_features: list[Tensor]) -> Tensor:
        total = pred.new_zeros(pred.shape[0])
        for n, cum_t in zip(self.fft_sizes, target_features, strict=True):
            diff = self._cumulative(pred, n) - cum_t
            total = total + (diff.abs() if self.norm == "l1" else diff.square()).mean(dim=(-2, -1))
        return total


@loss_registry.register("wasserstein_time")
@dataclass
class WassersteinTime(_CumulativeSpectral):
    """DiffMoog's ``mss_cumsum_time`` loss: cumulative sums over frames (time)."""

    axis: ClassVar[int] = -1


@loss_registry.register("wasserstein_freq")
@dataclass
class WassersteinFreq(_CumulativeSpectral):
    """DiffMoog's ``mss_cumsum_freq`` loss: cumulative sums over frequency bins."""

    axis: ClassVar[int] = -2
