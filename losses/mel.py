"""Multi-resolution mel-spectrogram loss (linear + log mel magnitudes)."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field

import torch
from torch import Tensor

from losses.base import Loss, loss_registry
from losses.fast_stft import stft_power_fast as stft_power


@functools.lru_cache(maxsize=64)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> Tensor:
    import librosa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa warns about empty filters at small n_fft
        fb = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return torch.from_numpy(fb)


def mel_filterbank(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    fmin: float = 0.0,
    fmax: float | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """librosa's Slaney-normalised mel filterbank ``[n_mels, n_fft // 2 + 1]`` (cached)."""
    return _mel_basis(sample_rate, n_fft, n_mels, float(fmin), fmax).to(device, dtype)


@loss_registry.register("mel")
@dataclass
class MultiResolutionMel(Loss):
    """Multi-resolution mel distance.

    For each FFT size n (Hann window of n samples, hop = n * hop_ratio, centred,
    reflect padding), mel magnitudes ``M = F_mel @ sqrt(max(|X|^2, eps))`` with
    librosa's Slaney mel filterbank of ``n_mels`` bands between fmin and fmax (Hz)::

        L_n = w_lin * mean|M_pred - M_target| + w_log * mean|log max(M_pred, eps) - log max(M_target, eps)|

    and the loss is the mean of L_n over the FFT sizes. With the same settings
    this equals auraloss's ``MultiResolutionSTFTLoss(scale="mel", w_sc=0)``
    wherever no mel band is empty. Unitless.
    """

    sample_rate: int = 16000
    fft_sizes: list[int] = field(default_factory=lambda: [2048, 1024, 512, 256])
    hop_ratio: float = 0.25
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float | None = None
    w_lin: float = 1.0
    w_log: float = 1.0
    eps: float = 1e-8

    def _mel(self, audio: Tensor, n_fft: int) -> Tensor:
        mag = stft_power(audio, n_fft, max(1, int(n_fft * self.hop_ratio))).clamp(min=self.eps).sqrt()
        fb = mel_filterbank(
            self.sample_rate, n_fft, self.n_mels, self.fmin, self.fmax, audio.device, audio.dtype
        )
        return torch.matmul(fb, mag)

    def features(self, audio: Tensor) -> list[tuple[Tensor, Tensor]]:
        out = []
        for n in self.fft_sizes:
            mel = self._mel(audio, n)
            out.append((mel, mel.clamp(min=self.eps).log()))
        return out

    def compare(self, pred: Tensor, target_features: list[tuple[Tensor, Tensor]]) -> Tensor:
        total = pred.new_zeros(pred.shape[0])
        for n, (mel_t, log_t) in zip(self.fft_sizes, target_features, strict=True):
            mel = self._mel(pred, n)
            if self.w_lin:
                total = total + self.w_lin * (mel - mel_t).abs().mean(dim=(-2, -1))
            if self.w_log:
                total = total + self.w_log * (mel.clamp(min=self.eps).log() - log_t).abs().mean(dim=(-2, -1))
        return total / len(self.fft_sizes)
