"""Multi-resolution STFT loss (linear + log magnitude), as in DDSP and auraloss."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

from losses.base import Loss, loss_registry
from losses.fast_stft import magnitude_distance, magnitude_spectrum


@loss_registry.register("mss")
@dataclass
class MultiScaleSpectral(Loss):
    """Multi-resolution STFT distance.

    For each FFT size n (Hann window of n samples, hop = n * hop_ratio, centred),
    with magnitudes ``S = sqrt(max(|X|^2, eps))``::

        L_n = w_lin * mean|S_pred - S_target| + w_log * mean|log S_pred - log S_target|

    and the loss is the mean of L_n over the FFT sizes (means over frequency bins
    and frames). With w_lin = w_log = 1 and eps = 1e-8 this equals auraloss's
    ``MultiResolutionSTFTLoss(w_sc=0, w_lin_mag=1, w_log_mag=1)``. Unitless.
    """

    sample_rate: int = 16000
    fft_sizes: list[int] = field(default_factory=lambda: [2048, 1024, 512, 256, 128, 64])
    hop_ratio: float = 0.25
    w_lin: float = 1.0
    w_log: float = 1.0
    eps: float = 1e-8

    def _hop(self, n_fft: int) -> int:
        return max(1, int(n_fft * self.hop_ratio))

    def features(self, audio: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Per FFT size: magnitudes S and log S, frames first ``[B, frames, bins]``."""
        return [magnitude_spectrum(audio, n, self._hop(n), self.eps) for n in self.fft_sizes]

    def compare(self, pred: Tensor, target_features: list[tuple[Tensor, Tensor]]) -> Tensor:
        # the fused distance forms value and spectrum gradient in one pass (losses.fast_stft)
        total = pred.new_zeros(pred.shape[0])
        for n, feats in zip(self.fft_sizes, target_features, strict=True):
            total = total + magnitude_distance(pred, feats, n, self._hop(n), self.w_lin, self.w_log, self.eps)
        return total / len(self.fft_sizes)
