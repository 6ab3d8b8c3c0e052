"""Band-limited oscillators with real frequency gradients: sine, square, saw, triangle.

Naive waveforms alias, and the ``sign()`` square has a zero derivative with
respect to frequency almost everywhere. Here the discontinuities are smoothed by
polynomial band-limited steps (polyBLEP, Välimäki & Huovilainen 2007) and the
triangle's corners by their integral (polyBLAMP, Esqueda et al. 2016), both
two samples wide. Every waveform is then a piecewise-polynomial function of the
phase and of the per-sample phase increment ``dt = f / sr``, so autograd gives
the true derivative of the rendered signal with respect to frequency.

Conventions: phase in cycles, wrapped to [0, 1); output in [-1, 1] (about);
``saw`` rises from -1 to 1 over a cycle; ``square`` is +1 on the first half
cycle; ``triangle`` is -1 at phase 0 and +1 at phase 1/2; ``sine`` is sin(2 pi phase).
All functions are batched over a leading dimension B and vectorised over time.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from synths.dsp import TWO_PI, integrate_frequency, phase_cycles, time_axis

WAVEFORMS = ("sine", "square", "saw", "triangle")


def _blep(x: Tensor, dt: Tensor) -> Tensor:
    """PolyBLEP residual of a unit upward step at phase 0, at phases ``x`` (cycles, [0, 1)).

    Non-zero only within one sample of the step: ``-(1 - s)^2 / 2`` just after it
    (s = x / dt in [0, 1)) and ``(1 + s)^2 / 2`` just before (s = (x - 1) / dt).
    """
    after = x / dt
    before = (x - 1.0) / dt
    res = torch.where(after < 1.0, -0.5 * (1.0 - after).clamp(min=0.0).square(), torch.zeros_like(x))
    return torch.where(before > -1.0, 0.5 * (1.0 + before).clamp(min=0.0).square(), res)


def _blamp(x: Tensor, dt: Tensor) -> Tensor:
    """PolyBLAMP residual of a unit slope change (per sample) at phase 0: ``(1 - |s|)^3 / 6``."""
    after = x / dt
    before = (x - 1.0) / dt
    res = torch.where(after < 1.0, (1.0 - after).clamp(min=0.0).pow(3) / 6.0, torch.zeros_like(x))
    return torch.where(before > -1.0, (1.0 + before).clamp(min=0.0).pow(3) / 6.0, res)


def _shift(phase: Tensor, offset: float) -> Tensor:
    return torch.remainder(phase - offset, 1.0)


def waveform(kind: str, phase: Tensor, dt: Tensor) -> Tensor:
    """One waveform of ``phase[B, T]`` (cycles, [0, 1)) with per-sample increment ``dt[B|B,T]``.

    ``dt = f / sr`` in cycles per sample (0 < dt < 0.5); it sets the width of the
    band-limiting corrections. Returns ``[B, T]``, same dtype as ``phase``.
    """
    if dt.ndim == phase.ndim - 1:
        dt = dt.unsqueeze(-1)
    dt = dt.clamp(min=1e-9, max=0.5)
    if kind == "sine":
        return torch.sin(TWO_PI * phase)
    if kind == "saw":
        # falls by 2 at phase 0 -> correction -2 * blep
        return 2.0 * phase - 1.0 - 2.0 * _blep(phase, dt)
    if kind == "square":
        naive = torch.where(phase < 0.5, torch.ones_like(phase), -torch.ones_like(phase))
        # steps of +2 at phase 0 and -2 at phase 1/2; ``naive`` has no gradient, the
        # corrections carry the motion of the edges
        return naive + 2.0 * _blep(phase, dt) - 2.0 * _blep(_shift(phase, 0.5), dt)
    if kind == "triangle":
        naive = 1.0 - 4.0 * (phase - 0.5).abs()
        # slope changes of +8 dt per sample at phase 0 and -8 dt at phase 1/2
        return naive + 8.0 * dt * (_blamp(phase, dt) - _blamp(_shift(phase, 0.5), dt))
    raise ValueError(f"unknown waveform '{kind}'; choose one of {WAVEFORMS}")


def _fourier_coefficients(kind: str, k: Tensor) -> tuple[Tensor, Tensor]:
    """Cosine and sine amplitudes ``(a_k, b_k)`` of harmonic numbers ``k`` (> 0) in these conventions."""
    odd = (k % 2 == 1).to(k.dtype)
    zero = torch.zeros_like(k)
    if kind == "sine":
        return zero, (k == 1).to(k.dtype)
    if kind == "saw":
        return zero, -2.0 / (torch.pi * k)
    if kind == "square":
        return zero, odd * 4.0 / (torch.pi * k)
    if kind == "triangle":
        return -odd * 8.0 / (torch.pi**2 * k.square()), zero
    raise ValueError(f"unknown waveform '{kind}'; choose one of {WAVEFORMS}")


def harmonic_amplitudes(kind: str, k: np.ndarray) -> np.ndarray:
    """Amplitudes of harmonics ``k`` (> 0) of a unit waveform ``kind``, as the oscillators synthesise
    them (:func:`additive_waveform`)."""
    a, b = _fourier_coefficients(kind, torch.as_tensor(np.asarray(k, dtype=np.float64)))
    return torch.hypot(a, b).numpy()


def additive_waveform(
    kind: str, phase: Tensor, freq_hz: Tensor, sample_rate: int, table_size: int = 2048
) -> Tensor:
    """``kind`` at ``phase[B, T]`` (cycles) from its Fourier series cut at Nyquist: no aliasing.

    Per row, one period holding every harmonic ``k * freq_hz < sample_rate / 2`` (and
    ``k <= table_size / 2``) is synthesised by an inverse FFT into a table of
    ``table_size`` points, which is read with linear interpolation. The lookup's
    aliases stay more than 80 dB below the fundamental for fundamentals above 30 Hz
    (it grows with the number of harmonics), against -20 to -40 dB of aliases for
    the two-sample polyBLEP. The gradient with respect to frequency flows through
    ``phase`` (the interpolation's slope is the band-limited waveform's slope);
    the harmonic count is piecewise constant in frequency and carries none.

    Args:
        phase: phases in cycles, [0, 1), ``[B, T]``.
        freq_hz: the fundamental of each row, Hz, ``[B]``; it sets the cut. Under
            phase modulation the cut follows this nominal frequency, not the
            instantaneous one.
    """
    if kind == "sine":
        return torch.sin(TWO_PI * phase)
    k = torch.arange(table_size // 2 + 1, device=phase.device, dtype=torch.float64)
    a, b = _fourier_coefficients(kind, k.clamp(min=1.0))
    keep = (k > 0) & (k.unsqueeze(0) * freq_hz.detach().to(torch.float64).unsqueeze(-1) < sample_rate / 2)
    spectrum = torch.complex(a, -b) * (table_size / 2) * keep  # [B, table_size / 2 + 1]
    table = torch.fft.irfft(spectrum, n=table_size).to(phase.dtype)
    # two wrap points: float32 rounding may bring a phase of 1 - 1e-9 to exactly 1.0
    table = torch.cat([table, table[:, :2]], dim=-1)
    pos = phase * table_size
    left = pos.detach().floor()
    index = left.long()
    y0 = torch.gather(table, 1, index)
    return torch.addcmul(y0, pos - left, torch.gather(table, 1, index + 1) - y0)


def oscillator(
    kind: str,
    freq_hz: Tensor,
    *,
    sample_rate: int,
    num_samples: int,
    phase0: Tensor | None = None,
    amplitude: Tensor | None = None,
) -> Tensor:
    """Render ``[B, T]`` of waveform ``kind`` at frequencies ``freq_hz``.

    Args:
        kind: one of :data:`WAVEFORMS`.
        freq_hz: constant frequencies ``[B]`` or a frequency track ``[B, T]`` (Hz,
            below Nyquist); differentiable.
        sample_rate: Hz.
        num_samples: T.
        phase0: initial phase in cycles ``[B]`` (default 0); differentiable.
        amplitude: peak amplitude ``[B]`` or envelope ``[B, T]`` (default 1).
    """
    device = freq_hz.device
    if freq_hz.ndim == 1:
        phase = phase_cycles(freq_hz, time_axis(num_samples, sample_rate, device=device))
    else:
        phase = integrate_frequency(freq_hz, sample_rate)
    if phase0 is not None:
        phase = torch.remainder(phase + phase0.to(phase.dtype).unsqueeze(-1), 1.0)
    out = waveform(kind, phase, (freq_hz / sample_rate).to(phase.dtype))
    if amplitude is not None:
        out = out * (amplitude.unsqueeze(-1) if amplitude.ndim == 1 else amplitude)
    return out
