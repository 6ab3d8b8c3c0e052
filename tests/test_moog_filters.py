"""moog filters: magnitude responses against scipy's designs, the block scan against a per-sample loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch

from synths.moog.filters import biquad_coefficients, time_varying_biquad
from synths.moog.modules import Context, HighPass, LowPass

SR = 16000
N = 16384  # impulse-response length: the slowest filter here has decayed by > 200 dB


def _context(block: int = 32) -> Context:
    return Context(SR, N, 261.63, hold=0.75 * N / SR, block=block, noise_seed=0, device=torch.device("cpu"))


def _measured_db(cell_cls, params: dict[str, float], block: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """The moog filter cell's response to a unit impulse, as (freqs Hz, magnitude dB)."""
    impulse = torch.zeros(1, N)
    impulse[0, 0] = 1.0
    p = {k: torch.tensor([v]) for k, v in params.items()}
    y = cell_cls("f", {"envelope": "env_amount" in params}).render(
        p, {"in": [(None, impulse)]}, _context(block)
    )
    spectrum = np.fft.rfft(y[0].double().numpy())
    freqs = np.fft.rfftfreq(N, 1.0 / SR)
    return freqs, 20 * np.log10(np.abs(spectrum) + 1e-300)


def _analog_prototype_db(kind: str, cutoff: float, q: float, freqs: np.ndarray) -> np.ndarray:
    """scipy: the 2nd-order analog low/high-pass at the pre-warped cutoff, bilinear-transformed."""
    w0 = 2 * SR * math.tan(math.pi * cutoff / SR)
    num = [0.0, 0.0, w0**2] if kind == "lowpass" else [1.0, 0.0, 0.0]
    b, a = scipy.signal.bilinear(num, [1.0, w0 / q, w0**2], fs=SR)
    _, h = scipy.signal.freqz(b, a, worN=freqs, fs=SR)
    return 20 * np.log10(np.abs(h) + 1e-300)


def _audible(freqs: np.ndarray, reference_db: np.ndarray) -> np.ndarray:
    """20 Hz .. 7.9 kHz where the reference is above -50 dB.

    The synth renders in float32: its rounding noise sits near -80 dB, so deep in
    the stop band (where float32 cannot resolve the response) nothing is compared.
    """
    return (freqs >= 20) & (freqs <= 7900) & (reference_db > -50)


@pytest.mark.parametrize(("cell", "kind"), [(LowPass, "lowpass"), (HighPass, "highpass")])
@pytest.mark.parametrize("cutoff", [150.0, 1000.0, 6000.0])
def test_butterworth_setting_matches_scipy_butter(cell, kind, cutoff):
    freqs, got = _measured_db(cell, {"cutoff": cutoff, "resonance": 1 / math.sqrt(2)})
    sos = scipy.signal.butter(
        2, cutoff, btype=kind[:-4] if kind == "lowpass" else "high", fs=SR, output="sos"
    )
    _, h = scipy.signal.sosfreqz(sos, worN=freqs, fs=SR)
    want = 20 * np.log10(np.abs(h) + 1e-300)
    band = _audible(freqs, want)
    assert band.sum() > 1000
    assert np.abs(got[band] - want[band]).max() < 0.5


@pytest.mark.parametrize(("cell", "kind"), [(LowPass, "lowpass"), (HighPass, "highpass")])
@pytest.mark.parametrize(("cutoff", "q"), [(100.0, 10.0), (440.0, 4.0), (2500.0, 0.5), (7000.0, 2.0)])
def test_resonant_response_matches_analog_prototype(cell, kind, cutoff, q):
    freqs, got = _measured_db(cell, {"cutoff": cutoff, "resonance": q})
    want = _analog_prototype_db(kind, cutoff, q, freqs)
    band = _audible(freqs, want)
    assert np.abs(got[band] - want[band]).max() < 0.5
    # the resonant peak is where and as high as the prototype says (about Q at the cutoff)
    if q > 2:
        assert got[band].max() == pytest.approx(want[band].max(), abs=0.5)
        assert got[band].max() > 20 * math.log10(q) - 1


def test_envelope_filter_at_rest_is_the_static_filter():
    """With env_amount = 0 the cutoff track runs block by block through the scan: same response."""
    params = {"cutoff": 800.0, "resonance": 6.0, "env_amount": 0.0}
    params |= {"env_attack": 0.01, "env_decay": 0.1, "env_sustain": 0.5, "env_release": 0.1}
    freqs, got = _measured_db(LowPass, params, block=16)
    want = _analog_prototype_db("lowpass", 800.0, 6.0, freqs)
    band = _audible(freqs, want)
    assert np.abs(got[band] - want[band]).max() < 0.5


def _per_sample_reference(x, coeffs, block):
    """Direct form I, one sample at a time, coefficients switched every ``block`` samples."""
    b0, b1, b2, a1, a2 = (c.numpy() for c in coeffs)
    y = np.zeros_like(x)
    for row in range(x.shape[0]):
        x1 = x2 = y1 = y2 = 0.0
        for n in range(x.shape[1]):
            k = n // block
            out = (
                b0[row, k] * x[row, n] + b1[row, k] * x1 + b2[row, k] * x2 - a1[row, k] * y1 - a2[row, k] * y2
            )
            x2, x1, y2, y1 = x1, x[row, n], y1, out
            y[row, n] = out
    return y


@pytest.mark.parametrize("kind", ["lowpass", "highpass"])
@pytest.mark.parametrize("block", [8, 32])
def test_block_scan_equals_per_sample_recursion(kind, block):
    gen = torch.Generator().manual_seed(1)
    length = 1001  # not a multiple of the block: the last block is partial
    x = torch.randn(2, length, generator=gen, dtype=torch.float64)
    num = -(-length // block)
    cutoff = torch.exp(
        torch.empty(2, num, dtype=torch.float64).uniform_(math.log(60), math.log(7000), generator=gen)
    )
    q = torch.empty(2, num, dtype=torch.float64).uniform_(0.5, 10.0, generator=gen)
    coeffs = biquad_coefficients(kind, cutoff, q, SR)
    got = time_varying_biquad(x, *coeffs, block=block).numpy()
    want = _per_sample_reference(x.numpy(), coeffs, block)
    assert np.abs(got - want).max() < 1e-9 * max(1.0, np.abs(want).max())


def test_scan_gradients_match_finite_differences():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(1, 70, generator=gen, dtype=torch.float64, requires_grad=True)
    cutoff = torch.tensor([[300.0, 900.0, 2000.0, 500.0, 4000.0]], dtype=torch.float64, requires_grad=True)
    q = torch.tensor([[0.7, 3.0, 8.0, 1.0, 2.0]], dtype=torch.float64, requires_grad=True)

    def run(x, cutoff, q):
        return time_varying_biquad(x, *biquad_coefficients("lowpass", cutoff, q, SR), block=16)

    assert torch.autograd.gradcheck(run, (x, cutoff, q), eps=1e-6, atol=1e-6)


def test_envelope_and_lfo_sweep_the_cutoff():
    """An envelope low-pass fed by an LFO: its cutoff track is cutoff * 2**(amount*adsr + depth*lfo),
    held per block, and the cell's output is the per-sample recursion with those coefficients."""
    block, length = 32, 4000
    ctx = Context(SR, length, 261.63, hold=0.15, block=block, noise_seed=0, device=torch.device("cpu"))
    cell = LowPass("f", {"envelope": True}, {"in": ["x"], "mod": ["lfo"]})
    p = {"cutoff": 300.0, "resonance": 4.0, "env_amount": 3.0, "mod_depth": 0.5}
    p |= {"env_attack": 0.02, "env_decay": 0.05, "env_sustain": 0.5, "env_release": 0.05}
    p = {k: torch.tensor([v]) for k, v in p.items()}
    t = torch.arange(length) / SR
    lfo = torch.sin(2 * math.pi * 5.0 * t).unsqueeze(0)
    x = torch.randn(1, length, generator=torch.Generator().manual_seed(5))
    inputs = {"in": [(None, x)], "mod": [(None, lfo)]}
    track = cell.cutoff_track(p, inputs, ctx)[0]
    assert track.shape == (-(-length // block),)
    assert float(track.max()) > 4 * 300 and float(track.min()) < 1.2 * 300  # the envelope opens and closes it
    got = cell.render(p, inputs, ctx)[0].double().numpy()
    coeffs = biquad_coefficients("lowpass", track.double().unsqueeze(0), torch.tensor(4.0).double(), SR)
    want = _per_sample_reference(x.double().numpy(), coeffs, block)[0]
    assert np.abs(got - want).max() < 1e-4 * np.abs(want).max()
