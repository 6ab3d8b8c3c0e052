"""MFCC distance, the classic sound-matching cost (e.g. Yee-King et al. 2018)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from losses.base import Loss, loss_registry
from losses.mel import mel_filterbank
from losses.spectral import hann


@functools.lru_cache(maxsize=16)
def _dct_ortho(n_mels: int, n_mfcc: int) -> Tensor:
    """Orthonormal DCT-II matrix ``[n_mfcc, n_mels]`` (scipy's ``dct(type=2, norm="ortho")``)."""
    k = torch.arange(n_mfcc, dtype=torch.float64).unsqueeze(1)
    n = torch.arange(n_mels, dtype=torch.float64).unsqueeze(0)
    basis = torch.cos(math.pi / n_mels * (n + 0.5) * k) * math.sqrt(2.0 / n_mels)
    basis[0] /= math.sqrt(2.0)
    return basis


@loss_registry.register("mfcc")
@dataclass
class MFCCDistance(Loss):
    """Distance between MFCC matrices, computed as librosa's ``feature.mfcc`` defaults do.

    Power STFT (Hann, n_fft, hop, centred with zero padding), Slaney mel filterbank
    of ``n_mels`` bands, ``10 log10(max(P, amin))`` clipped to ``top_db`` below the
    clip's maximum (null disables), orthonormal DCT-II, first ``n_mfcc``
    coefficients (including c0). The loss is ``mean |C_pred - C_target|``
    (``distance: l1``) or ``mean (C_pred - C_target)^2`` (``l2``), over
    coefficients and frames. Unit: dB (l1) or dB^2 (l2).
    """

    sample_rate: int = 16000
    n_mfcc: int = 20
    n_mels: int = 128
    n_fft: int = 2048
    hop: int = 512
    fmin: float = 0.0
    fmax: float | None = None
    top_db: float | None = 80.0
    amin: float = 1e-10
    distance: str = "l1"

    def __post_init__(self) -> None:
        if self.distance not in ("l1", "l2"):
            from soundmatch.errors import UserError

            raise UserError(f"loss.distance must be 'l1' or 'l2', got '{self.distance}'")

    def mfcc(self, audio: Tensor) -> Tensor:
        """MFCCs ``[B, n_mfcc, frames]`` of ``audio[B, T]`` (librosa.feature.mfcc's layout)."""
        window = hann(self.n_fft, str(audio.device), audio.dtype)
        spec = torch.stft(
            audio, self.n_fft, self.hop, window=window, center=True, pad_mode="constant", return_complex=True
        )
        power = spec.real.square() + spec.imag.square()
        fb = mel_filterbank(
            self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax, audio.device, audio.dtype
        )
        db = 10.0 * torch.log10(torch.matmul(fb, power).clamp(min=self.amin))
        if self.top_db is not None:
            floor = db.amax(dim=(-2, -1), keepdim=True).detach() - self.top_db
            db = torch.maximum(db, floor)
        dct = _dct_ortho(self.n_mels, self.n_mfcc).to(audio.device, audio.dtype)
        return torch.matmul(dct, db)

    def features(self, audio: Tensor) -> Tensor:
        return self.mfcc(audio)

    def compare(self, pred: Tensor, target_features: Tensor) -> Tensor:
        diff = self.mfcc(pred) - target_features
        return (diff.abs() if self.distance == "l1" else diff.square()).mean(dim=(-2, -1))
