"""The fidelity study: the dx7 engine against Dexed on the 20 study voices."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from benchmark.cli import main
from benchmark.fidelity import FidelitySettings, median_lsd, run_study
from benchmark.fidelity_voices import fidelity_voices
from metrics.lsd import log_spectral_distance, range_limited_lsd

pytest.importorskip("dexed")

# Tolerances. The goal is a median LSD <= 2 dB; measured about 3.6 dB, because LSD
# counts every bin down to -100 dB and Dexed's fixed-point engine has a noise floor near
# -85 dB per bin in modulated voices. The engine now makes a noise floor of the same level,
# but two equal noises that are not sample-identical still differ by 7.9 dB RMS per bin
# (the log-ratio of two exponential variables), so only a bit-exact emulation would reach
# 2 dB. Over the top 60 dB of each frame, where the sound is, the median is about 0.2 dB.
# The bounds leave room for small engine changes; a partial off by 1 dB, or a misplaced
# partial, moves the top-60 figure far more than that.
MEDIAN_LSD_DB = 4.5
MEDIAN_TOP60_DB = 0.6
WORST_TOP60_DB = 4.0

SETTINGS = FidelitySettings(note=60, velocity=100, sample_rate=16000, hold=1.0, tail=0.25, sustain_from=0.25)


def test_study_voices_cover_the_engine() -> None:
    voices = fidelity_voices()
    carriers = {1: {16, 17, 18}, 2: set(range(1, 16)) - {5, 6}, 3: {5, 6, 19, 20, 26, 27, 28}}
    carriers |= {4: {21, 22, 23, 29, 30}, 5: {24, 25, 31}, 6: {32}}
    algorithms = {v.algorithm + 1 for v in voices}
    assert all(algorithms & group for group in carriers.values())  # every algorithm group
    assert {4, 6} <= algorithms  # the cross-feedback loops
    assert sum(v.feedback > 0 for v in voices) >= 15
    assert any(op.mode == 1 for v in voices for op in v.ops)  # fixed-frequency operators
    assert any(min(op.rates[:2]) < 40 for v in voices for op in v.ops)  # slow envelopes
    assert any(op.rates[1] >= 80 for v in voices for op in v.ops)  # fast decays
    assert any(v.lfo_pmd and v.pitch_mod_sens for v in voices)  # vibrato
    assert any(v.lfo_amd and any(op.amp_mod_sens for op in v.ops) for v in voices)  # tremolo
    assert len(voices) >= 16 and len({v.name for v in voices}) == len(voices)


def test_dexed_against_itself_measures_only_the_parameter_space() -> None:
    """synth=dexed renders the voice after the trip through the unit cube: what that trip loses."""
    rows = run_study(FidelitySettings(**{**vars(SETTINGS), "synth": "dexed"}), fidelity_voices()[:4])
    assert len(rows) == 4 and not any(r.lost for r in rows)  # these voices fit the dx7 space
    for row in rows:
        if not row.lost:
            assert row.lsd_db == 0.0 and row.level_db == 0.0


def test_dx7_engine_is_close_to_dexed() -> None:
    rows = run_study(SETTINGS)
    assert len(rows) == len(fidelity_voices())
    assert all(math.isfinite(r.lsd_db) for r in rows)
    assert median_lsd(rows) <= MEDIAN_LSD_DB
    assert statistics.median(r.lsd_top60_db for r in rows) <= MEDIAN_TOP60_DB
    assert max(r.lsd_top60_db for r in rows) <= WORST_TOP60_DB
    assert all(abs(r.level_db) < 1.0 for r in rows), rows  # same loudness over the sustain


def test_fidelity_command(capsys) -> None:
    assert (
        main(["fidelity", "synth=dexed", "hold=0.3", "tail=0", "sustain_from=0.1", "sample_rate=8000"]) == 0
    )
    out = capsys.readouterr().out
    assert "| E.PIANO | 5 |" in out and "median LSD" in out
    assert main(["fidelity", "hold=0.2", "sustain_from=0.5"]) == 2
    assert "sustain_from=0.5 must lie in [0, hold=0.2)" in capsys.readouterr().err


def test_range_limited_lsd() -> None:
    """Equal above the range: about 0, whatever lies below it; a 6 dB louder tone: at most 6 dB."""
    t = np.arange(16000) / 16000
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    quiet = np.random.default_rng(0).standard_normal(16000) * 1e-3  # about -91 dB per bin
    assert range_limited_lsd(tone + quiet, tone) < 0.1
    assert log_spectral_distance(tone + quiet, tone, range_db=None) > 5.0  # lsd_abs: the floor counts
    assert log_spectral_distance(tone + quiet, tone, range_db=60.0) < 0.5  # floored 60 dB under the tone
    louder = range_limited_lsd(2 * tone, tone)
    assert 0.1 < louder < 6.03
