"""Target analysis: envelope segmentation, partials, and the note-off that ``synth.hold=auto`` reads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis.envelope import HOP_SECONDS, segment
from analysis.partials import analyse_partials
from analysis.target import analyse
from benchmark.run.solve import synth_for_target
from solvers.base import Target
from synths.base import Note
from synths.fm2 import FM2

SR = 16000
FRAMES = 2 * HOP_SECONDS  # "within a frame or two"


def adsr_tone(
    hz: float,
    attack: float,
    decay: float,
    sustain_db: float,
    off: float | None,
    release: float,
    duration: float = 1.0,
    amp: float = 0.5,
) -> np.ndarray:
    """A sine under a linear attack, a decay straight in dB to ``sustain_db``, and a release falling
    60 dB in ``release`` s from ``off`` (None: no note-off in the clip)."""
    t = np.arange(int(SR * duration)) / SR
    env = np.where(t < attack, t / attack, 10.0 ** (sustain_db * np.clip((t - attack) / decay, 0, 1) / 20))
    if off is not None:
        env = env * np.where(t > off, 10.0 ** (-3.0 * (t - off) / release), 1.0)
    return amp * np.sin(2 * np.pi * hz * t) * env


@pytest.mark.parametrize("hz", [110.0, 440.0, 1500.0])
@pytest.mark.parametrize("attack, off", [(0.05, 0.6), (0.1, 0.7), (0.02, 0.45)])
def test_segmentation_recovers_attack_and_release_times(hz, attack, off):
    seg = segment(adsr_tone(hz, attack, 0.1, -6.0, off, 0.1), SR)
    assert seg.onset == pytest.approx(0.0, abs=FRAMES)
    assert seg.attack_end == pytest.approx(attack, abs=FRAMES)
    assert not seg.sustains
    assert seg.note_off == pytest.approx(off, abs=FRAMES)
    assert seg.release_slope == pytest.approx(-600.0, rel=0.2)  # 60 dB in 0.1 s
    # 0.5 amplitude sine: -9 dB RMS at the peak, 6 dB less in the sustain
    assert seg.peak_db == pytest.approx(-9.03, abs=1.0)  # the 20 ms window rounds the peak off
    assert seg.sustain_db == pytest.approx(-15.05, abs=1.0)


def test_a_sustained_note_holds_to_the_clip_end():
    seg = segment(adsr_tone(330.0, 0.03, 0.2, -4.0, None, 0.1), SR)
    assert seg.sustains and seg.note_off == pytest.approx(1.0)
    assert seg.release_slope is None and abs(seg.sustain_slope) < 3.0


def test_a_natural_decay_is_not_a_release():
    """A struck note decaying 50 dB/s all through (marimba-like) sustains: its decay is the body."""
    t = np.arange(SR) / SR
    x = 0.5 * np.sin(2 * np.pi * 523.0 * t) * np.minimum(t / 0.005, 1.0) * 10.0 ** (-50.0 * t / 20)
    seg = segment(x, SR)
    assert seg.sustains
    assert seg.sustain_slope == pytest.approx(-50.0, rel=0.15)


def test_partials_read_harmonics_inharmonic_peaks_and_noisiness():
    t = np.arange(SR) / SR
    x = (
        0.5 * np.sin(2 * np.pi * 220 * t)
        + 0.1 * np.sin(2 * np.pi * 440 * t)
        + 0.05 * np.sin(2 * np.pi * 607 * t)
    )
    p = analyse_partials(x, SR, 220.0)
    assert [q.harmonic for q in p.peaks] == [1, 2, None]
    assert p.peaks[0].hz == pytest.approx(220.0, abs=0.2)
    assert p.peaks[2].ratio == pytest.approx(607 / 220, abs=0.01)
    assert 20 * np.log10(p.harmonics[0] / 0.5) == pytest.approx(0.0, abs=0.5)
    assert 20 * np.log10(p.harmonics[1] / 0.1) == pytest.approx(0.0, abs=0.5)
    assert p.noisiness < -40.0
    noisy = analyse_partials(x + 0.3 * np.random.default_rng(0).standard_normal(SR), SR, 220.0)
    assert noisy.noisiness > p.noisiness + 20.0
    assert p.tracks.shape[1] == 3 and p.tracks.shape[0] == len(p.times)


def test_analyse_bundles_f0_partials_and_envelope():
    x = adsr_tone(261.63 * 2 ** (20 / 1200), 0.04, 0.1, -3.0, 0.7, 0.1)
    a = analyse(torch.from_numpy(x.astype(np.float32)), SR, Note(60.0))
    assert a.midi == pytest.approx(60.2, abs=0.03)
    assert a.partials is not None and a.partials.peaks[0].harmonic == 1
    assert not a.envelope.sustains and a.envelope.note_off == pytest.approx(0.7, abs=FRAMES)
    assert set(a.as_log()) >= {"f0_hz", "note_off_s", "sustains", "noisiness_db"}


@pytest.mark.parametrize("off, expected, sustains", [(0.6, 0.6, False), (None, 1.0, True)])
def test_hold_auto_plays_the_target_note_off(off, expected, sustains):
    audio = torch.from_numpy(adsr_tone(440.0, 0.02, 0.1, -3.0, off, 0.08).astype(np.float32))
    target = Target(audio, SR, "tone", note=Note(69.0))
    synth = FM2(index_envelope=False)
    played, tags = synth_for_target(synth, target, auto_hold=True)
    assert played is not synth and synth.hold is None
    assert played.hold == pytest.approx(expected, abs=FRAMES)
    assert float(tags["soundmatch.hold"]) == pytest.approx(expected, abs=FRAMES)
    assert tags["soundmatch.hold_source"] == ("sustains to the clip end" if sustains else "release found")


def test_hold_auto_leaves_synthetic_suites_at_the_default():
    target = Target(torch.zeros(SR), SR, "synthetic")
    synth = FM2()
    assert synth_for_target(synth, target, auto_hold=False) == (synth, {})
