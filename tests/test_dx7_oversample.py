"""synth.oversample: the DX7 rendered at a multiple of the run's rate and brought down without
folding its sidebands back."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.signal import resample

from soundmatch.errors import UserError
from synths.base import Note
from synths.dx7.synth import DX7, decimate
from synths.dx7.voice import Voice


def test_decimate_keeps_what_lies_below_nyquist_and_drops_what_would_fold():
    """3 kHz and 11 kHz at 32 kHz, decimated to 16 kHz: 3 kHz keeps its amplitude (within 0.1 dB);
    11 kHz, which sampling at 16 kHz would fold onto 5 kHz, leaves nothing there (-80 dB)."""
    t = torch.arange(32000, dtype=torch.float64) / 32000
    x = (0.5 * torch.sin(2 * math.pi * 3000 * t) + 0.5 * torch.sin(2 * math.pi * 11000 * t))[None]
    y = decimate(x, 2, 16000)[0].numpy()
    spectrum = np.abs(np.fft.rfft(y[2000:14000] * np.hanning(12000))) / (np.hanning(12000).sum() / 2)
    assert 20 * np.log10(spectrum[2250] / 0.5) == pytest.approx(0.0, abs=0.1)  # 3 kHz: bin 2250
    assert 20 * np.log10(spectrum[3700:3800].max() / 0.5) < -80.0  # around 5 kHz
    assert torch.equal(decimate(x, 1, 32000), x)


def test_an_oversampled_render_is_the_double_rate_render_low_passed():
    """A bright two-operator voice at MIDI 84 (sidebands far above 8 kHz): oversample=2 at 16 kHz
    equals the 32 kHz render brought down by scipy's Fourier resampler (within 1% RMS away from the
    clip's ends, where scipy's version wraps); the plain 16 kHz render, whose sidebands fold, does not."""
    voice = Voice(algorithm=4)
    for op in voice.ops:
        op.output_level = 0
    voice.ops[4].output_level, voice.ops[5].output_level = 99, 90
    note = Note(84.0)
    with torch.no_grad():
        play = lambda synth, rate: synth.render_voices([voice], sample_rate=rate, duration=0.5, note=note)[0]  # noqa: E731
        plain = play(DX7(hold=0.4), 16000).numpy()
        over = play(DX7(hold=0.4, oversample=2), 16000)
        double = play(DX7(hold=0.4), 32000).numpy()
    reference = resample(double.astype(np.float64), 8000)[1000:-1000]
    rms = lambda a: float(np.sqrt(np.mean(np.square(a))))  # noqa: E731
    assert over.shape == (8000,)
    assert rms(over.numpy()[1000:-1000] - reference) < 0.01 * rms(reference)
    assert rms(plain[1000:-1000] - reference) > 0.1 * rms(reference)


@pytest.mark.parametrize("bad", [0, 9, 1.5, True])
def test_oversample_takes_whole_factors(bad):
    with pytest.raises(UserError, match="synth.oversample"):
        DX7(oversample=bad)
