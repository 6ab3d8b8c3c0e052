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


@functools.lru_cache(maxsize=16)
def log_frequency_bank(
    sample_rate: int, n_fft: int, bands_per_octave: int = 24, fmin: float = 27.5
) -> Tensor:
    """Triangular filters on a log-frequency axis, ``[bands, n_fft // 2 + 1]`` (float64).

    Band k is centred at ``fmin * 2**(k / bands_per_octave)`` (A0 = 27.5 Hz
    upwards, up to 0.95 Nyquist) and rises and falls over one band spacing each
    side, widened to at least one FFT bin where bands are narrower than the
    bins (low notes). Neighbouring triangles overlap by half, so a partial
    detuned by a small fraction of a band moves only a small fraction of its
    energy to the next band, while a semitone (two bands at 24 per octave)
    moves it all.
    """
    freqs = torch.fft.rfftfreq(n_fft, 1.0 / sample_rate, dtype=torch.float64)
    bin_hz = float(freqs[1])
    count = int(bands_per_octave * torch.log2(torch.tensor(0.95 * sample_rate / 2 / fmin))) + 1
    centres = fmin * 2.0 ** (torch.arange(count, dtype=torch.float64) / bands_per_octave)
    step = 2.0 ** (1.0 / bands_per_octave)
    low = torch.minimum(centres / step, centres - bin_hz)[:, None]
    high = torch.maximum(centres * step, centres + bin_hz)[:, None]
    c = centres[:, None]
    rise = (freqs[None, :] - low) / (c - low)
    fall = (high - freqs[None, :]) / (high - c)
    return torch.minimum(rise, fall).clamp(min=0.0)
