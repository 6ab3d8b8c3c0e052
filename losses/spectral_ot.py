"""Spectral optimal transport: 1-D Wasserstein distance between normalised spectra, per frame.

After Torres et al. (2024): each STFT frame's spectrum, normalised to unit mass,
is a probability distribution over frequency; the 1-D optimal-transport cost
between two such distributions moves energy *along* the frequency axis, so a
small pitch error costs little and a large one costs more, where bin-wise
losses only see "no overlap".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from losses.base import Loss, loss_registry
from losses.fast_stft import stft_power_fast as stft_power
from soundmatch.errors import UserError


def wasserstein_1d_cdf(p: Tensor, q: Tensor, positions: Tensor) -> Tensor:
    """W1 between distributions ``p[..., K]``, ``q[..., K]`` (each summing to 1) on sorted ``positions[K]``.

    On a common support the optimal 1-D transport cost is the area between the
    two CDFs: ``sum_k |P_k - Q_k| (x_{k+1} - x_k)``. Unit: that of ``positions``.
    """
    gaps = positions[1:] - positions[:-1]
    cdf_gap = (torch.cumsum(p, dim=-1) - torch.cumsum(q, dim=-1))[..., :-1]
    return (cdf_gap.abs() * gaps).sum(dim=-1)


@loss_registry.register("spectral_ot")
@dataclass
class SpectralOT(Loss):
    """Mean over frames (and FFT sizes) of the 1-D optimal-transport cost between spectra.

    For each FFT size n (Hann window, hop n * hop_ratio, centred): the frame's
    ``|X|^power + eps`` normalised to sum 1 over the bins is a distribution on the
    bin frequencies, in Hz (``scale: linear``, unit Hz) or in octaves above
    ``fmin`` (``scale: log``: log2(f / fmin) with bins below fmin dropped; unit
    octaves). The loss is the exact W1 between predicted and target
    distributions (area between CDFs), averaged over frames and FFT sizes.
    ``eps`` spreads a tiny uniform mass so silent frames stay defined.
    """

    sample_rate: int = 16000
    fft_sizes: list[int] = field(default_factory=lambda: [2048])
    hop_ratio: float = 0.25
    scale: str = "linear"
    fmin: float = 20.0
    power: float = 2.0
    eps: float = 1e-10

    def __post_init__(self) -> None:
        if self.scale not in ("linear", "log"):
            raise UserError(f"loss.scale must be 'linear' or 'log', got '{self.scale}'")

    def positions(self, n_fft: int, device=None, dtype=torch.float32) -> tuple[Tensor, int]:
        """Bin positions (Hz or octaves) and the index of the first bin kept."""
        freqs = torch.arange(n_fft // 2 + 1, device=device, dtype=dtype) * (self.sample_rate / n_fft)
        if self.scale == "linear":
            return freqs, 0
        first = int(math.ceil(self.fmin * n_fft / self.sample_rate))
        first = max(first, 1)
        return torch.log2(freqs[first:] / self.fmin), first

    def distributions(self, audio: Tensor, n_fft: int) -> Tensor:
        """Per-frame spectra as distributions ``[B, frames, bins]`` (each row sums to 1)."""
        power = stft_power(audio, n_fft, max(1, int(n_fft * self.hop_ratio)))
        mass = power if self.power == 2.0 else power.clamp(min=1e-30) ** (self.power / 2.0)
        _, first = self.positions(n_fft)
        mass = mass[..., first:, :].transpose(-1, -2) + self.eps
        return mass / mass.sum(dim=-1, keepdim=True)

    def features(self, audio: Tensor) -> list[Tensor]:
        return [self.distributions(audio, n) for n in self.fft_sizes]

    def compare(self, pred: Tensor, target_features: list[Tensor]) -> Tensor:
        total = pred.new_zeros(pred.shape[0])
        for n, q in zip(self.fft_sizes, target_features, strict=True):
            x, _ = self.positions(n, pred.device, pred.dtype)
            total = total + wasserstein_1d_cdf(self.distributions(pred, n), q, x).mean(dim=-1)
        return total / len(self.fft_sizes)
