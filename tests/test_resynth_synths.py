"""harmonic_noise synth and the DX7's time-varying levels against physics: frequencies, amplitudes,
Nyquist, the noise filter's spectrum, FM sidebands (Bessel), gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import jv

from soundmatch.errors import UserError
from synths.base import Note
from synths.dx7.frames import render_levels
from synths.dx7.synth import DX7
from synths.harmonic_noise import HarmonicNoise, apply_reverb, control_hop, harmonic_noise, noise_ir

SR = 16000
N = SR  # 1 s: 1 Hz bins


def amplitude_at(audio: np.ndarray, hz: float) -> float:
    """Peak amplitude of the sinusoid at ``hz`` in a 1 s clip (rectangular window, integer-Hz bins)."""
    spec = np.abs(np.fft.rfft(audio)) * 2.0 / len(audio)
    return float(spec[int(round(hz * len(audio) / SR))])


def constant(frames: int, value, *shape) -> torch.Tensor:
    return torch.full((1, frames, *shape), float(value))


def hn(f0: float, amp: float, harmonics: list[float], noise_db: float = -200.0) -> np.ndarray:
    frames = N // control_hop(SR) + 2
    gen = torch.Generator().manual_seed(0)
    audio = harmonic_noise(
        constant(frames, f0),
        constant(frames, amp),
        torch.tensor(harmonics).expand(1, frames, -1),
        constant(frames, 10 ** (noise_db / 20), 9),
        sample_rate=SR,
        num_samples=N,
        generator=gen,
    )
    return audio[0].numpy()


def test_single_harmonic_frequency_and_amplitude():
    audio = hn(440.0, 0.3, [0.0, 0.0, 1.0, 0.0])  # only the third partial
    assert amplitude_at(audio, 1320.0) == pytest.approx(0.3, rel=1e-3)
    spec = np.abs(np.fft.rfft(audio)) * 2.0 / N
    assert int(np.argmax(spec)) == 1320
    assert spec[[440, 880, 1760]].max() < 1e-4


def test_partials_above_nyquist_are_removed_and_the_rest_renormalised():
    audio = hn(3000.0, 0.4, [1.0] * 5)  # 3, 6 kHz audible; 9, 12, 15 kHz removed
    assert amplitude_at(audio, 3000.0) == pytest.approx(0.2, rel=1e-3)
    assert amplitude_at(audio, 6000.0) == pytest.approx(0.2, rel=1e-3)
    for alias in (7000.0, 4000.0, 1000.0):  # where 9, 12, 15 kHz would fold to
        assert amplitude_at(audio, alias) < 1e-4


def test_noise_spectrum_follows_the_filter():
    frames = N // control_hop(SR) + 2
    mags = torch.ones(1, frames, 65)
    mags[..., 33:] = 0.01  # -40 dB above 4 kHz
    audio = harmonic_noise(
        constant(frames, 100.0),
        constant(frames, 0.0),
        torch.ones(1, frames, 1),
        mags,
        sample_rate=SR,
        num_samples=N,
        generator=torch.Generator().manual_seed(1),
    )[0].numpy()
    power = np.abs(np.fft.rfft(audio)) ** 2
    low, high = power[200:3600].mean(), power[4600:7800].mean()
    assert 10 * np.log10(low / high) == pytest.approx(40.0, abs=3.0)
    # a flat response of 1 passes the uniform noise at its own level (variance 1/3)
    flat = harmonic_noise(
        constant(frames, 100.0),
        constant(frames, 0.0),
        torch.ones(1, frames, 1),
        torch.ones(1, frames, 65),
        sample_rate=SR,
        num_samples=N,
        generator=torch.Generator().manual_seed(1),
    )[0]
    assert float(flat.var()) == pytest.approx(1 / 3, rel=0.1)


def test_noise_ir_is_causal_linear_phase_and_windowed():
    ir = noise_ir(torch.ones(65))
    assert ir.shape[-1] == 128 and int(ir.abs().argmax()) == 64  # a delta at the centre
    assert float(ir[0]) == 0.0  # Hann-windowed ends


def test_controls_are_differentiable_and_static_render_holds_them():
    synth = HarmonicNoise(n_harmonics=8, n_noise_bands=9)
    x = torch.rand(2, synth.dim, requires_grad=True)
    audio = synth.render(x, sample_rate=SR, duration=0.25, note=Note(57))
    assert audio.shape == (2, 4000)
    (grad,) = torch.autograd.grad(audio.pow(2).sum(), x)
    assert bool(torch.isfinite(grad).all()) and float(grad[:, 0].abs().min()) > 0
    # the static render plays the note's pitch: 220 Hz at partial 1 alone
    one = torch.zeros(1, synth.dim)
    one[0, 0], one[0, 1], one[0, 9:] = 1.0, 1.0, 0.0  # 0 dB, partial 1, noise -80 dB
    tone = synth.render(one, sample_rate=SR, duration=1.0, note=Note(57))[0].numpy()
    assert amplitude_at(tone, 220.0) == pytest.approx(1.0, rel=1e-2)


def test_reverb_with_a_delta_is_the_identity_and_delays_with_a_shifted_one():
    audio = torch.randn(2, 1000)
    delta = torch.zeros(50)
    delta[0] = 1.0
    assert torch.allclose(apply_reverb(audio, delta), audio, atol=1e-5)
    delta = torch.roll(delta, 10)
    assert torch.allclose(apply_reverb(audio, delta)[:, 10:], audio[:, :-10], atol=1e-5)


def dx7_levels(f0: float, levels: list[float], ratios: list[float], algorithm: int = 16) -> np.ndarray:
    frames = N // control_hop(SR) + 2
    lv = torch.tensor(levels).expand(1, frames, -1)
    audio = render_levels(
        constant(frames, f0),
        lv,
        ratios=ratios,
        algorithm_number=algorithm,
        sample_rate=SR,
        num_samples=N,
        hop=control_hop(SR),
    )
    return audio[0].numpy()


def test_dx7_lone_carrier_is_a_sine_at_half_its_level():
    audio = dx7_levels(500.0, [0.2, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1])
    assert amplitude_at(audio, 500.0) == pytest.approx(0.1, rel=2e-3)


def test_dx7_modulator_level_sets_the_bessel_sidebands():
    g = 0.2  # cycles: index 2 pi g rad
    audio = dx7_levels(400.0, [0.2, g, 0, 0, 0, 0], [1, 3, 1, 1, 1, 1])  # OP2 (x3) -> OP1
    beta = 2 * np.pi * g
    assert amplitude_at(audio, 400.0) == pytest.approx(0.1 * abs(jv(0, beta)), rel=1e-2)
    assert amplitude_at(audio, 1600.0) == pytest.approx(0.1 * abs(jv(1, beta)), rel=1e-2)
    assert amplitude_at(audio, 800.0) == pytest.approx(0.1 * abs(jv(1, beta)), rel=1e-2)  # 1 - 3 = -2


def test_dx7_levels_follow_a_ramp_and_pass_gradients():
    synth = DX7(algorithm=16, feedback=0, ratios=[1, 1, 1, 2, 2, 1.5], lfo=False, pitch_eg=False)
    frames = 4000 // control_hop(SR) + 2
    ramp = torch.linspace(0.0, 0.3, frames).reshape(1, frames, 1).expand(1, frames, 6).clone()
    ramp.requires_grad_(True)
    audio = synth.render_controls(
        {"f0_hz": constant(frames, 330.0), "levels": ramp}, sample_rate=SR, duration=0.25
    )[0]
    quarter = audio.shape[0] // 4
    peaks = audio.detach().abs()
    assert float(peaks[:quarter].max()) < 0.5 * float(peaks[-quarter:].max())
    (grad,) = torch.autograd.grad(audio.pow(2).sum(), ramp)
    assert bool(torch.isfinite(grad).all()) and float(grad.abs().sum()) > 0
    with pytest.raises(UserError, match="fixed routing"):
        DX7(algorithm=None).render_controls({}, sample_rate=SR, duration=0.25)
