"""The fidelity study: the dx7 engine against Dexed on hand-made, random and solver-exported voices."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from benchmark.cli.main import main
from benchmark.report.leaderboard import load_runs
from benchmark.run.tracking import default_uri
from benchmark.studies.fidelity import (
    FidelitySettings,
    envelope_error,
    median_lsd,
    onset_lag,
    run_study,
    strongest_partial_hz,
    study_voices,
)
from benchmark.studies.fidelity_voices import fidelity_voices, random_voices, solver_matches, space_voices
from metrics.lsd import log_spectral_distance, range_limited_lsd
from synths.dx7.voice import Voice

pytest.importorskip("dexed")

# Over the top 60 dB of each frame the hand-made voices agree to a median of about 0.2 dB at 48 kHz
# (notes 36/60/84, velocities 64/127); the goals are 0.5 median and 1.5 dB for any voice. Below 60 dB
# lie the engines' noise floors (Dexed's fixed-point one), which only a bit-exact emulation matches.
MEDIAN_TOP60_DB = 0.5
WORST_TOP60_DB = 1.5
MEDIAN_ENVELOPE_DB = 0.5

# held 1 s: a shorter clip cannot resolve a detuned pair of partials, and the strongest peak wanders
SETTINGS = FidelitySettings(notes=(36, 60, 84), velocities=(64, 127), sample_rate=48000, hold=1.0, tail=0.2)


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
    settings = FidelitySettings(synth="dexed", notes=(60,), velocities=(100,), hold=0.3, tail=0.1)
    rows, cases = run_study(settings, fidelity_voices()[:4])
    assert len(rows) == len(cases) == 4 and not any(r.lost for r in rows)  # these voices fit the dx7 space
    for row in rows:
        assert row.lsd60 == 0.0 and row.envelope == 0.0 and row.cents == 0.0 and row.lag == 0


def test_dx7_engine_is_close_to_dexed_on_every_study_voice() -> None:
    voices = study_voices(["study", "random", "solvers"], 4, 0)  # the cma exports' deep vibratos included
    rows, cases = run_study(SETTINGS, voices)
    assert len(cases) == 6 * len(voices) and all(math.isfinite(c.lsd60) for c in cases)
    assert median_lsd(rows) <= MEDIAN_TOP60_DB
    assert max(r.lsd60 for r in rows) <= WORST_TOP60_DB, [(r.voice, r.lsd60) for r in rows]
    assert statistics.median(r.envelope for r in rows) <= MEDIAN_ENVELOPE_DB
    assert all(abs(r.cents) < 20 for r in rows), [(r.voice, r.cents) for r in rows]


def test_fixed_frequency_operators_ignore_pitch_eg_and_lfo_as_in_dexed() -> None:
    """A fixed 436 Hz carrier under a pitch EG held at level 99 and under full vibrato stays at
    436 Hz in Dexed; ours did follow them (5.4 dB)."""
    def fixed_voice(**extra) -> Voice:
        v = Voice(algorithm=31, **extra)
        for op in v.ops:
            op.output_level = 0
        v.ops[0].output_level, v.ops[0].mode, v.ops[0].coarse, v.ops[0].fine = 99, 1, 2, 64
        v.name = "FIXED".ljust(10)
        return v

    voices = [fixed_voice(pitch_levels=[99] * 4), fixed_voice(lfo_pmd=99, pitch_mod_sens=7, lfo_wave=4)]
    rows, cases = run_study(FidelitySettings(notes=(60,), velocities=(100,), hold=0.5, tail=0.1), voices)
    assert all(r.lsd60 < 0.3 and abs(r.cents) < 1 for r in rows), rows


def test_study_metrics_on_known_signals() -> None:
    sr = 48000
    t = np.arange(sr) / sr
    tone = 0.5 * np.sin(2 * np.pi * 440.0 * t)
    assert strongest_partial_hz(tone, sr) == pytest.approx(440.0, abs=0.01)
    sharp = 0.5 * np.sin(2 * np.pi * 440.0 * 2 ** (10 / 1200) * t)
    interval = 1200 * math.log2(strongest_partial_hz(sharp, sr) / strongest_partial_hz(tone, sr))
    assert interval == pytest.approx(10.0, abs=0.05)
    assert envelope_error(tone, tone, sr) == 0.0
    assert envelope_error(0.5 * tone, tone, sr) == pytest.approx(20 * math.log10(2), abs=1e-6)
    burst = tone * (t < 0.1)
    late = np.roll(burst, 30)
    assert onset_lag(late, burst, sr) == 30 and onset_lag(burst, burst, sr) == 0


def test_voice_sets() -> None:
    assert len(random_voices(3, seed=1)) == 3
    assert [v.name for v in random_voices(2, 5)] == [v.name for v in random_voices(2, 5)]
    matches = solver_matches()
    assert len(matches) == 18 and {v.name[0] for v in matches} == {"F", "C"}
    free = [v for v in fidelity_voices() if v.name.endswith("FREE")]
    assert len(free) == 2 and all(v.lfo_sync == 0 for v in free)
    assert len(study_voices(["study", "random", "solvers"], 12, 0)) >= 40


def test_the_strongest_partial_is_an_audible_one() -> None:
    """A fixed-frequency operator at 1 Hz (the space voices have them) is not the note's partial."""
    t = np.arange(48000) / 48000
    audio = (np.sin(2 * np.pi * t) + 0.01 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    assert strongest_partial_hz(audio, 48000) == pytest.approx(440.0, abs=0.05)


def test_space_voices_cover_the_whole_parameter_space() -> None:
    from synths.dx7.sysex import FIELDS, voice_values

    voices = space_voices(200, seed=0)
    assert [v.name for v in voices[:2]] == ["SPACE 000 ", "SPACE 001 "]
    assert voice_values(space_voices(3, 0)[2]) == voice_values(voices[2])  # seeded
    assert voice_values(space_voices(3, 1)[2]) != voice_values(voices[2])
    ops = [o for v in voices for o in v.ops]
    assert {v.algorithm for v in voices} == set(range(32)) and {v.feedback for v in voices} == set(range(8))
    assert {o.left_curve for o in ops} == {o.right_curve for o in ops} == set(range(4))
    assert {o.mode for o in ops} == {0, 1} and {o.velocity_sens for o in ops} == set(range(8))
    assert max(o.coarse for o in ops) == 31 and max(o.output_level for o in ops) == 99
    assert min(min(o.rates) for o in ops) == 0 and min(min(o.levels) for o in ops) == 0
    assert {v.lfo_wave for v in voices} == set(range(5)) and {v.lfo_sync for v in voices} == {0, 1}
    assert min(min(v.pitch_levels) for v in voices) < 5 and max(max(v.pitch_levels) for v in voices) > 95
    for v in voices:  # every field within its sysex range
        for (name, top), value in zip(FIELDS, voice_values(v), strict=True):
            assert 0 <= value <= top, (v.name, name, value)


def test_fidelity_command(capsys, tmp_path) -> None:
    args = ["fidelity", "voices=study", "notes=60", "velocities=100", "hold=0.3", "tail=0"]
    args.append(f"results_dir={tmp_path}")
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| E.PIANO | 5 |" in out and "median LSD over the top 60 dB" in out
    # the table is written to results_dir and logged as a study in its store
    assert "| E.PIANO | 5 |" in (tmp_path / "fidelity.md").read_text()
    runs = load_runs(default_uri(tmp_path), "fidelity", level="study")
    assert len(runs) == 1 and float(runs["metrics.median_lsd60"].iloc[0]) < 1.0
    assert main(["fidelity", "voices=nope"]) == 2
    assert "voices" in capsys.readouterr().err
    assert main(["fidelity", "notes=200"]) == 2


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
