"""Shared DSP blocks for the synths: time axes, accurate phases, envelopes.

All functions are batched over a leading dimension B, differentiable and
vectorised over samples (no Python loops over time).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

TWO_PI = 2.0 * math.pi


def time_axis(num_samples: int, sample_rate: int, device=None, dtype=torch.float64) -> Tensor:
    """Sample times in seconds, ``[T]``."""
    return torch.arange(num_samples, device=device, dtype=dtype) / sample_rate


def phase_cycles(freq_hz: Tensor, t: Tensor) -> Tensor:
    """Phase in cycles, wrapped to [0, 1), of constant frequencies ``freq_hz[B]`` at times ``t[T]``.

    The product is formed in float64 so that the phase of a 5 kHz partial is still
    exact to ~1e-12 cycles after minutes (float32 would be off by ~1e-3 cycles
    after a second, which shows up as a -50 dB noise floor). The wrap keeps a
    gradient of exactly ``t`` with respect to frequency. Returns float32 ``[B, T]``.
    """
    cycles = freq_hz.to(torch.float64).unsqueeze(-1) * t.to(torch.float64)
    return torch.remainder(cycles, 1.0).to(torch.float32)


def integrate_frequency(freq_hz: Tensor, sample_rate: int) -> Tensor:
    """Phase in cycles, wrapped to [0, 1), of time-varying frequencies ``freq_hz[B, T]``.

    Phase at sample n is the sum of f[0..n-1] / sr (so it starts at 0), summed in
    float64 for the same reason as :func:`phase_cycles`. Returns float32 ``[B, T]``.
    """
    steps = freq_hz.to(torch.float64) / sample_rate
    cycles = torch.cumsum(steps, dim=-1) - steps
    return torch.remainder(cycles, 1.0).to(torch.float32)


def adsr(
    t: Tensor,
    attack: Tensor,
    decay: Tensor,
    sustain: Tensor,
    release: Tensor,
    note_off: float,
) -> Tensor:
    """Linear ADSR envelope, ``[B, T]`` in [0, 1].

    Args:
        t: sample times in seconds ``[T]``.
        attack, decay, release: segment durations in seconds ``[B]`` (> 0).
        sustain: sustain level ``[B]`` in [0, 1].
        note_off: time of the note-off in seconds; the release starts from the
            level reached then and falls linearly to 0 in ``release`` seconds.
    """
    t = t.to(torch.float32).unsqueeze(0)
    a, d, s, r = (v.to(torch.float32).unsqueeze(-1) for v in (attack, decay, sustain, release))
    held = t.clamp(max=note_off)
    rise = (held / a).clamp(0.0, 1.0)
    fall = ((held - a) / d).clamp(0.0, 1.0)
    level = rise * (1.0 - (1.0 - s) * fall)
    gate = 1.0 - ((t - note_off) / r).clamp(0.0, 1.0)
    return level * gate
