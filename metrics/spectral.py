"""STFT magnitudes shared by spectral losses and metrics."""

from __future__ import annotations

import functools

import torch
from torch import Tensor


@functools.lru_cache(maxsize=64)
def hann(n_fft: int, device: str = "cpu", dtype: torch.dtype = torch.float32) -> Tensor:
    """Periodic Hann window of length ``n_fft`` (cached per size, device and dtype)."""
    return torch.hann_window(n_fft, periodic=True, device=device, dtype=dtype)


def stft_power(audio: Tensor, n_fft: int, hop: int, center: bool = True) -> Tensor:
    """Power spectrogram ``|X|^2`` of ``audio[B, T]``, shape ``[B, n_fft // 2 + 1, frames]``.

    Hann window of length n_fft, reflect padding when centred (as torch.stft and
    auraloss do).
    """
    window = hann(n_fft, str(audio.device), audio.dtype)
    spec = torch.stft(
        audio, n_fft, hop, window=window, center=center, pad_mode="reflect", return_complex=True
    )
    return spec.real.square() + spec.imag.square()
