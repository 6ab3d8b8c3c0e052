"""Band-limited oscillators: spectra against the Fourier series, aliasing, frequency gradients."""

from __future__ import annotations

import math

import pytest
import torch

from synths.dsp import time_axis
from synths.oscillators import WAVEFORMS, oscillator, waveform

SR = 16000


def _harmonic_amplitudes(kind: str, n: torch.Tensor) -> torch.Tensor:
    """Magnitude of harmonic n of the ideal waveform (Fourier series)."""
    odd = (n % 2 == 1).double()
    if kind == "sine":
        return (n == 1).double()
    if kind == "saw":
        return 2.0 / (math.pi * n.double())
    if kind == "square":
        return odd * 4.0 / (math.pi * n)
    return odd * 8.0 / (math.pi**2 * n**2)


@pytest.mark.parametrize("kind", WAVEFORMS)
def test_harmonics_match_fourier_series(kind):
    # f0 = 250 Hz over 1 s: harmonic n lands on FFT bin 250 n exactly
    f0 = 250.0
    y = oscillator(kind, torch.tensor([f0]), sample_rate=SR, num_samples=SR)[0].double()
    mag = torch.fft.rfft(y).abs() * 2 / SR
    n = torch.arange(1, 9)
    got = mag[(n * f0).long()]
    want = _harmonic_amplitudes(kind, n)
    # the band-limiting corrections shave a little off the top harmonics only
    assert torch.allclose(got[:4], want[:4], atol=0.01), (got, want)


@pytest.mark.parametrize("kind", ["saw", "square"])
def test_polyblep_reduces_aliasing(kind):
    # 1234.5 Hz: harmonics fold back between the true ones when not band-limited
    f0 = 1234.5
    t = time_axis(SR, SR)
    phase = torch.remainder(f0 * t, 1.0)
    naive = 2 * phase - 1 if kind == "saw" else torch.where(phase < 0.5, 1.0, -1.0).double()
    smooth = oscillator(kind, torch.tensor([f0]), sample_rate=SR, num_samples=SR)[0].double()

    def alias_share(y):
        power = torch.fft.rfft(y * torch.hann_window(SR, dtype=torch.float64)).abs().square()
        freqs = torch.arange(power.numel(), dtype=torch.float64)
        k = freqs / f0
        near_harmonic = (k - k.round()).abs() * f0 < 20
        return float(power[~near_harmonic].sum() / power.sum())

    assert alias_share(smooth) < 0.25 * alias_share(naive)


@pytest.mark.parametrize("kind", WAVEFORMS)
def test_frequency_gradient_is_real(kind):
    """d(sum(y * w))/df from autograd equals a central finite difference (float64)."""
    torch.manual_seed(0)
    n = 400
    t = torch.arange(n, dtype=torch.float64) / SR
    w = torch.randn(n, dtype=torch.float64)

    def objective(f):
        phase = torch.remainder(f.unsqueeze(-1) * t, 1.0)
        return (waveform(kind, phase, f / SR) * w).sum()

    f = torch.tensor([523.0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(objective(f), f)
    h = 1e-5
    fd = (objective(f.detach() + h) - objective(f.detach() - h)) / (2 * h)
    assert float(grad.abs()) > 1e-3
    assert float(grad) == pytest.approx(float(fd), rel=1e-4)


def test_phase_amplitude_and_tracks():
    f = torch.tensor([100.0, 200.0])
    y = oscillator(
        "sine",
        f,
        sample_rate=SR,
        num_samples=64,
        phase0=torch.tensor([0.25, 0.0]),
        amplitude=torch.tensor([0.5, 2.0]),
    )
    assert float(y[0, 0]) == pytest.approx(0.5)
    assert float(y[1, 0]) == pytest.approx(0.0)
    track = f.unsqueeze(-1).expand(2, 64)
    y2 = oscillator(
        "sine",
        track,
        sample_rate=SR,
        num_samples=64,
        phase0=torch.tensor([0.25, 0.0]),
        amplitude=torch.tensor([0.5, 2.0]),
    )
    assert torch.allclose(y, y2, atol=1e-5)
    with pytest.raises(ValueError, match="unknown waveform"):
        waveform("noise", torch.zeros(1, 4), torch.tensor([0.01]))
