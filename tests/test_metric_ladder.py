"""The yardstick: f0 analysis, level-relative spectral metrics, match_distance, the ladder, score."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from analysis.harmonics import harmonic_amplitudes
from analysis.pitch import cents, estimate_f0, octave_check
from benchmark.cli.main import main
from losses.base import loss_registry
from metrics.base import Evaluation, bind_metric, metric_registry
from metrics.lsd import log_spectral_distance
from metrics.match_distance import (
    LEVEL_WEIGHT,
    PITCH_CAP_DB,
    PITCH_CURVE,
    interval_charge_db,
    match_components,
    pitch_interval_cents,
)
from soundmatch.errors import UserError

SR = 16000


def harmonic_tone(f0: float, seconds: float = 1.0, amps=(1.0, 0.5, 0.3, 0.2, 0.1), level: float = 0.3):
    """A steady harmonic tone with a 20 ms fade-in/out, peak about ``level``."""
    t = np.arange(int(SR * seconds)) / SR
    x = sum(a * np.sin(2 * np.pi * (h + 1) * f0 * t + h) for h, a in enumerate(amps) if (h + 1) * f0 < SR / 2)
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
    return (level * x * ramp / np.abs(x).max()).astype(np.float32)


@pytest.mark.parametrize("f0", [65.4, 220.0, 261.63, 466.16, 1046.5])
def test_estimate_f0_is_precise_on_harmonic_tones(f0):
    est = estimate_f0(harmonic_tone(f0), SR)
    assert est.hz is not None and abs(cents(est.hz, f0)) < 2.0, (est.hz, est.backend)
    assert est.backend.endswith("+harmonics")


def test_octave_check_moves_a_wrong_octave_back():
    tone = harmonic_tone(220.0)
    assert octave_check(tone, SR, 220.0) == 0
    assert octave_check(tone, SR, 440.0) == -1  # read an octave high: odd multiples of 220 sound
    assert octave_check(tone, SR, 110.0) == 1  # read an octave low: no odd multiples of 110


def test_metadata_fixes_the_octave_and_the_tracker_refines_it():
    tone = harmonic_tone(220.0 * 2 ** (30 / 1200))  # 30 cents sharp of A3
    est = estimate_f0(tone, SR, hint_midi=57.0)
    assert est.backend.startswith("metadata")
    assert abs(cents(est.hz, 220.0) - 30.0) < 2.0


def test_lsd_floors_relative_to_the_target():
    tone = harmonic_tone(440.0, level=0.9)  # loudest bin about -8 dB
    hiss = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 1e-3  # about -91 dB per bin
    assert log_spectral_distance(tone + hiss, tone, range_db=60.0) < 0.5  # floor 60 dB under the tone
    assert log_spectral_distance(tone + 30 * hiss, tone, range_db=60.0) > 1.0  # hiss above the floor counts
    assert log_spectral_distance(tone + hiss, tone, range_db=None) > 5.0  # lsd_abs counts the floor
    assert 0.5 < log_spectral_distance(0.5 * tone, tone) <= 20 * math.log10(2) + 0.01  # bins over the floor


def _ev(pred, target, note_hz=None):
    return Evaluation(pred=np.asarray(pred, np.float32), target=target, sample_rate=SR, note_hz=note_hz)


def test_match_distance_orders_known_cases():
    target = harmonic_tone(261.63)
    t = np.arange(SR) / SR
    rng = np.random.default_rng(1)
    env = np.abs(target).max() * np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
    cases = [
        target,
        0.5 * target,  # -6 dB
        harmonic_tone(261.63 * 2 ** (1 / 12)),  # a semitone sharp
        harmonic_tone(523.25),  # an octave up
        (env * rng.standard_normal(SR) * 0.3).astype(np.float32),  # noise
        np.zeros(SR, np.float32),  # silence
    ]
    md = metric_registry.get("match_distance")
    values = [md(_ev(c, target)) for c in cases]
    assert values[0] == 0.0
    assert values[1] == pytest.approx(6.02 * LEVEL_WEIGHT, abs=0.3)  # a gain costs its dB (weighted)
    assert values == sorted(values) and len(set(values)) == len(values), values
    parts = match_components(_ev(cases[3], target))
    assert parts["pitch_cents"] == pytest.approx(1200.0, abs=5.0)


def test_pitch_is_charged_only_past_the_threshold_and_without_a_cliff():
    target = harmonic_tone(261.63)
    near = match_components(_ev(harmonic_tone(261.63 * 2 ** (2 / 1200)), target))
    assert near["pitch_cents"] == pytest.approx(2.0, abs=0.5) and near["pitch_db"] == 0.0
    assert interval_charge_db(3.0) == 0.0 < interval_charge_db(10.0) < interval_charge_db(50.0)
    # a mistuning grows with its root; a wrong note costs the cap, however far
    assert interval_charge_db(10.0) == pytest.approx(2.0 * math.sqrt(7.0), abs=0.01)
    charge = interval_charge_db
    assert charge(50.0) < 20.0 < charge(75.0) < charge(90.0) < PITCH_CAP_DB
    assert interval_charge_db(100.0) == interval_charge_db(1200.0) == PITCH_CAP_DB
    steps = np.diff([interval_charge_db(c) for c in np.linspace(0.0, 150.0, 601)])
    assert (steps >= 0.0).all() and steps.max() < 5.0  # monotone and without a cliff
    # a tone drowning in noise loses its pitch gradually: the charge grows, in steps well under the cap
    rng = np.random.default_rng(3)
    noise = rng.standard_normal(SR).astype(np.float32) * 0.1
    gains = (1.0, 0.3, 0.1, 0.03, 0.0)
    charges = [match_components(_ev(g * target + noise, target))["pitch_db"] for g in gains]
    assert charges == sorted(charges) and charges[-1] > 0.5 * PITCH_CAP_DB, charges


def test_a_less_voiced_match_pays_for_missing_pitch_at_the_rate_of_the_pitch_it_shows():
    """Version 4: the confidence gap between a pitched target and a less surely pitched match costs
    the cap when the match has no pitch reading, the interval's charge when it has one (a match at
    the target's note that the tracker calls unvoiced in more frames is not out of tune)."""
    curve = PITCH_CURVE
    gap = dict(q_target=1.0, q_match=0.4)
    assert curve.pitch_db(math.nan, **gap) == pytest.approx(0.6 * PITCH_CAP_DB)  # no reading
    assert curve.pitch_db(1.0, **gap) == 0.0  # right note
    assert curve.pitch_db(1200.0, **gap) == pytest.approx(PITCH_CAP_DB)  # wrong note: as if unpitched
    assert curve.pitch_db(20.0, **gap) == pytest.approx(interval_charge_db(20.0))
    assert curve.pitch_db(1200.0, 0.5, 0.0) == pytest.approx(0.5 * PITCH_CAP_DB)  # weighted by the target
    assert curve.pitch_db(1200.0, 0.0, 1.0) == 0.0  # an unpitched target: pitch does not apply
    # no cliff: the charge moves smoothly with the match's confidence and with the interval
    qs = np.linspace(0.0, 1.0, 101)
    for c in (math.nan, 0.0, 30.0, 1200.0):
        assert np.abs(np.diff(curve.pitch_db(c, 1.0, qs))).max() < 2.0
    # in sound: the target's note with its second half drowned in noise is called unvoiced there,
    # keeps its pitch reading and pays only for the few cents the noise moves it (version 3: 127 dB);
    # the timbre terms charge the noise
    target = harmonic_tone(261.63)
    noisy = target.copy()
    noisy[SR // 2:] = np.random.default_rng(5).standard_normal(SR - SR // 2).astype(np.float32) * 0.2
    parts = match_components(_ev(noisy, target))
    assert parts["pitched_match"] < 0.5 < parts["pitched_target"] and parts["pitch_cents"] < 10.0, parts
    assert parts["pitch_db"] <= interval_charge_db(parts["pitch_cents"]) < 6.0, parts
    assert parts["timbre_db"] > 10.0, parts


def test_a_tracker_reading_another_harmonic_is_not_a_wrong_note():
    low = harmonic_tone(220.0, amps=(1.0, 0.9, 0.8, 0.7, 0.6, 0.5))
    up = harmonic_tone(440.0, amps=(1.0, 0.9, 0.8, 0.7, 0.6, 0.5))
    # the same note read at its second or third harmonic: the common fundamental is 220 Hz
    assert pitch_interval_cents(low, low, SR, 440.0, 220.0) == pytest.approx(0.0, abs=1.0)
    assert pitch_interval_cents(low, low, SR, 660.0, 220.0) == pytest.approx(0.0, abs=1.0)
    # a real octave holds no odd multiples of 220 Hz: an octave it stays
    assert pitch_interval_cents(up, low, SR, 440.0, 220.0) == pytest.approx(1200.0, abs=1.0)
    # a 440 Hz note with a faint sub-octave (odd multiples of 220 Hz 26 dB under) read at 220 Hz:
    # it sounds at 440 Hz, so against the plain note it is the same note; at -6 dB it is a real octave
    for sub_db, interval in ((-26.0, 0.0), (-6.0, 1200.0)):
        sub = 10.0 ** (sub_db / 20.0)
        growl = harmonic_tone(220.0, amps=(sub, 1.0, sub, 0.9, sub, 0.8, sub, 0.7, sub, 0.6, sub, 0.5))
        assert pitch_interval_cents(growl, up, SR, 220.0, 440.0) == pytest.approx(interval, abs=1.0)
        assert pitch_interval_cents(up, growl, SR, 440.0, 220.0) == pytest.approx(interval, abs=1.0)


def test_harmonic_amplitude_error_reads_a_changed_harmonic():
    target = harmonic_tone(220.0, amps=(1.0, 0.5, 0.3))
    louder_second = harmonic_tone(220.0, amps=(1.0, 1.0, 0.3))
    err = metric_registry.get("harmonic_amplitude_error")
    assert err(_ev(target, target)) == 0.0
    changed = err(_ev(louder_second * (np.abs(target).max() / np.abs(louder_second).max()), target))
    assert 1.0 < changed < 8.0
    a, freqs = harmonic_amplitudes(target, SR, 220.0, 3)
    assert np.allclose(freqs, [220, 440, 660])
    mid = a[len(a) // 2]
    assert 20 * np.log10(mid[0] / mid[1]) == pytest.approx(20 * np.log10(2), abs=0.5)


def test_metric_options_are_checked():
    assert bind_metric("lsd", {"range_db": 60.0})(_ev(harmonic_tone(440), harmonic_tone(440))) == 0.0
    with pytest.raises(UserError, match="metric 'lsd' has no such option"):
        bind_metric("lsd", {"bogus": 1})


def test_spectral_match_loss_is_zero_for_identical_and_differentiable():
    loss = loss_registry.create("spectral_match", sample_rate=SR)
    target = torch.from_numpy(harmonic_tone(330.0))[None]
    assert float(loss(target, target)[0]) == pytest.approx(0.0, abs=1e-4)
    pred = (0.5 * target).clone().requires_grad_(True)
    value = loss(pred, target)
    value.sum().backward()
    assert float(value[0]) > 1.0 and torch.isfinite(pred.grad).all()
    off = torch.from_numpy(harmonic_tone(330.0 * 2 ** (1 / 12)))[None]
    octave = torch.from_numpy(harmonic_tone(660.0))[None]
    assert float(loss(off, target)[0]) < float(loss(octave, target)[0])


def test_calibrate_small_ladder(tmp_path, capsys):
    rc = main([
        "calibrate", "notes=3", "metrics=match_distance,lsd_abs", "losses=none", f"results_dir={tmp_path}",
    ])
    assert rc == 0
    out = capsys.readouterr().out
    assert "match_distance" in out and "worst pair" in out
    table = (tmp_path / "calibrate.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| match_distance"))
    tau = float(row.split("|")[3].split()[0])
    assert tau > 0.9, row
    lines = (tmp_path / "calibrate.csv").read_text().splitlines()
    assert lines[0].startswith("name,kind,note,identical") and len(lines) == 1 + 2 * 3
    assert main(["calibrate", "metrics=nope"]) == 2


def test_score_a_file_against_itself_is_zero(tmp_path, capsys):
    a = tmp_path / "a.wav"
    sf.write(a, harmonic_tone(440.0), SR)
    assert main(["score", str(a), str(a), "format=json"]) == 0
    scores = json.loads(capsys.readouterr().out)["scores"][0]
    distances = {k: v for k, v in scores.items() if k != "match"}
    assert "match_distance" in distances and "lsd" in distances
    assert all(abs(v) < 1e-6 for v in distances.values() if v is not None), distances  # float rounding


def test_score_pairs_folders_by_name(tmp_path, capsys):
    (tmp_path / "t").mkdir()
    (tmp_path / "m").mkdir()
    sf.write(tmp_path / "t" / "x.wav", harmonic_tone(440.0), SR)
    sf.write(tmp_path / "m" / "x.flac", 0.5 * harmonic_tone(440.0), SR)
    sf.write(tmp_path / "t" / "y.wav", harmonic_tone(330.0), SR)
    rc = main(["score", str(tmp_path / "t"), str(tmp_path / "m"), "metrics=match_distance,lsd"])
    assert rc == 0
    captured = capsys.readouterr()
    assert "x" in captured.out and "no match for 1 target" in captured.err
    row = next(line for line in captured.out.splitlines() if line.startswith("x "))
    assert float(row.split()[1]) == pytest.approx(6.02, abs=0.3)
    assert main(["score", str(tmp_path / "t"), str(tmp_path / "t" / "x.wav")]) == 2
    assert main(["score", str(tmp_path / "nope.wav"), str(tmp_path / "t" / "x.wav")]) == 2


@pytest.mark.parametrize("samples, rate, ok", [(5, SR, False), (1000, SR, False), (2400, SR, True),
                                               (3000, 8000, False), (4096, 8000, True)])  # fmt: skip
def test_score_of_clips_too_short_to_analyse_is_one_line(tmp_path, capsys, samples, rate, ok):
    """Every metric runs on the shortest overlap allowed; anything shorter is one line, exit 2."""
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    sf.write(a, harmonic_tone(440.0), SR)
    sf.write(b, harmonic_tone(330.0)[:samples], SR)
    code = main(["score", str(a), str(b), f"sample_rate={rate}", "format=json"])
    err = capsys.readouterr().err
    assert code == (0 if ok else 2), err[-1500:]
    if not ok:
        (line,) = err.strip().splitlines()
        assert line.startswith("error: score:") and "scoring needs at least" in line


def test_values_with_intervals_print_the_digits_they_support():
    from benchmark.run.summary import suite_line
    from metrics.fad import significant

    assert significant(0.93561, 0.80, 1.10) == "0.94 [0.80, 1.10]"
    assert significant(12.3456, 12.30, 12.39) == "12.346 [12.300, 12.390]"
    line = suite_line({"fad": 0.93561, "fad_low": 0.8, "fad_high": 1.1, "suite_metric_targets": 8.0}, str)
    assert line == "fad 0.94 [0.80, 1.10], suite_metric_targets 8.0"
