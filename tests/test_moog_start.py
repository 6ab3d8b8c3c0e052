"""``solver.x0=analysis`` for moog chains: waveform, filter, envelope and level read from the target."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from losses.base import loss_registry
from solvers.base import Budget, Problem, Target
from solvers.moog_start import biquad_lowpass_db, fit_lowpass, moog_start, nearest_waveform
from soundmatch.errors import UserError
from synths.base import Note, synth_registry
from synths.oscillators import harmonic_amplitudes as series

SR = 16000


def spectral_loss():
    return loss_registry.create("spectral_match", sample_rate=SR)


@pytest.mark.parametrize("kind", ["sine", "saw", "square", "triangle"])
def test_each_waveform_is_recognised_from_its_own_series(kind):
    k = np.arange(1, 21, dtype=float)
    choices = ("sine", "saw", "square", "triangle")
    assert nearest_waveform(series(kind, k), choices) == kind
    # a softer copy (a gentle low-pass) keeps its kind
    assert nearest_waveform(series(kind, k) / np.sqrt(1 + (k / 12) ** 4), choices) == kind


def test_the_lowpass_fit_recovers_a_known_response():
    freqs = 220.0 * np.arange(1, 30)
    cutoff, q = fit_lowpass(freqs, biquad_lowpass_db(freqs, 1500.0, 3.0) - 7.0)
    assert abs(np.log2(cutoff / 1500.0)) < 0.1 and abs(np.log2(q / 3.0)) < 0.3


def test_the_filter_model_is_the_chains_own_lowpass():
    """The analogue response the fit assumes matches the moog low-pass cell as rendered (saw through
    the filter; harmonics under a quarter of the rate, where the digital biquad is not warped)."""
    from analysis.partials import analyse_partials

    synth = synth_registry.create("moog", chain="simple")
    values = {"saw.transpose": 0.0, "saw.amp": 0.8, "saw.phase": 0.0, "square.transpose": 0.0,
              "square.amp": 0.01, "square.phase": 0.0, "mix.gain_saw": 1.0, "mix.gain_square": 0.0,
              "amp.attack": 0.002, "amp.decay": 0.01, "amp.sustain": 1.0, "amp.release": 0.01,
              "filter.cutoff": 1200.0, "filter.resonance": 2.0}  # fmt: skip
    x = synth.spec.to_unit(values).unsqueeze(0)
    audio = synth.render(x, sample_rate=SR, duration=0.5, note=Note(45.0))[0].numpy()
    f0 = Note(45.0).hz
    harmonics = analyse_partials(audio, SR, f0).harmonics
    k = np.arange(1, len(harmonics) + 1, dtype=float)
    low = (k * f0 < SR / 4) & (harmonics > 0)
    measured = 20 * np.log10(harmonics[low] / series("saw", k[low]))
    model = biquad_lowpass_db(k[low] * f0, 1200.0, 2.0)
    offset = np.median(measured - model)
    assert np.max(np.abs(measured - model - offset)) < 2.0


def test_the_analysis_start_reads_a_moog_note_and_sounds_nearer_than_the_centre():
    synth = synth_registry.create("moog", chain="simple", hold=0.35)
    truth = {"saw.transpose": 0.0, "saw.amp": 0.5, "saw.phase": 0.0, "square.transpose": 0.0,
             "square.amp": 0.5, "square.phase": 0.0, "mix.gain_saw": 0.9, "mix.gain_square": 0.1,
             "amp.attack": 0.05, "amp.decay": 0.2, "amp.sustain": 0.5, "amp.release": 0.1,
             "filter.cutoff": 900.0, "filter.resonance": 1.0}  # fmt: skip
    x = synth.spec.to_unit(truth).unsqueeze(0)
    audio = synth.render(x, sample_rate=SR, duration=0.5, note=Note(57.3))[0]
    target = Target(audio, SR, "moog-note", note=Note(57.0))
    problem = Problem(synth, target, spectral_loss(), Budget(4), seed=0)
    start = moog_start(problem)
    read = synth.spec.describe(start)
    assert read["saw.transpose"] == pytest.approx(0.3, abs=0.05)  # tuned to the measured f0
    assert abs(np.log2(read["filter.cutoff"] / 900.0)) < 0.7
    assert read["amp.attack"] == pytest.approx(0.05, abs=0.03) and read["amp.sustain"] < 0.8
    losses = problem.evaluate(torch.stack([start, torch.full_like(start, 0.5)]))
    assert losses[0] < losses[1]


def test_x0_analysis_for_a_synth_nothing_reads_is_one_clear_error():
    from solvers.starts import analysis_points

    synth = synth_registry.create("harmonic_noise")
    target = Target(torch.zeros(SR // 4), SR, "silence", note=Note(60.0))
    problem = Problem(synth, target, spectral_loss(), Budget(2), seed=0)
    with pytest.raises(UserError, match="x0=analysis reads start points"):
        analysis_points(problem, 1)
