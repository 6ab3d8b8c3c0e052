"""Vibrato and tremolo: read from a note's pitch and level tracks (analysis.modulation), drawn by
the DX7's LFO (solvers.fm_voice), refined by fm_match."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from analysis.modulation import Tremolo, Vibrato
from analysis.target import analyse
from losses.mss import MultiScaleSpectral
from solvers.base import Budget, Problem, Target
from solvers.fm_match import analytic_plan
from solvers.fm_motion import _tremolo_db, _vibrato_cents, carrier_octaves, plan_lfo
from synths.base import Note
from synths.dx7.synth import DX7
from synths.dx7.voice import Voice

SR = 16000


def tone(cents_of_t, seconds: float = 2.0, hz: float = 440.0, tremolo: float = 0.0) -> np.ndarray:
    """Three harmonics whose pitch follows ``cents_of_t(t)`` (cents about ``hz``)."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2.0 * np.pi * np.cumsum(hz * 2.0 ** (cents_of_t(t) / 1200.0)) / SR
    level = 1.0 + tremolo * np.sin(2.0 * np.pi * 4.0 * t)
    return level * (0.3 * np.sin(phase) + 0.2 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase))


def vibrato_of(x: np.ndarray, note: float | None = None):
    return analyse(x, SR, None if note is None else Note(note)).vibrato


@pytest.mark.parametrize("rate, depth, onset", [(5.5, 25.0, 0.55), (6.8, 60.0, 0.0), (4.2, 10.0, 0.3)])
def test_a_vibrato_is_read_with_its_rate_depth_and_onset(rate, depth, onset):
    ramp = lambda t: np.clip((t - onset) / 0.2 + 0.5, 0.0, 1.0) if onset > 0 else np.ones_like(t)  # noqa: E731
    v = vibrato_of(tone(lambda t: depth * ramp(t) * np.sin(2 * np.pi * rate * t)))
    assert v is not None
    assert v.rate_hz == pytest.approx(rate, abs=0.15)
    assert v.depth_cents == pytest.approx(depth, rel=0.15)
    assert v.onset == pytest.approx(max(onset, 0.0), abs=0.15)


@pytest.mark.parametrize(
    "case",
    [
        lambda t: 0.0 * t,  # a steady tone
        lambda t: 60.0 * t,  # a slow glide (60 cents over 2 s) is no vibrato
        lambda t: 2.0 * np.sin(2 * np.pi * 5.0 * t),  # 2 cents: below what is looked for
    ],
)
def test_no_vibrato_is_read_where_there_is_none(case):
    assert vibrato_of(tone(case)) is None
    assert vibrato_of(tone(lambda t: 0.0 * t, tremolo=0.3)) is None  # a level swing is not a pitch swing


@pytest.mark.parametrize("rate, depth, onset", [(5.5, 25.0, 0.5), (6.5, 45.0, 0.0)])
def test_the_lfo_planned_for_a_vibrato_plays_it_back_through_the_engine(rate, depth, onset):
    """plan_lfo inverts the engine's own LFO: the DX7 voice it sets up sounds the vibrato it was
    asked for (read back by the same analysis): rate within 4%, depth within 20%, onset within 0.15 s."""
    lfo = plan_lfo(Vibrato(rate, depth, onset, 1.0), None, SR)
    assert _vibrato_cents(lfo.pmd, lfo.pms) == pytest.approx(depth, rel=0.05)
    voice = Voice(algorithm=4, lfo_wave=4, lfo_speed=lfo.speed, lfo_delay=lfo.delay, lfo_pmd=lfo.pmd)
    voice.pitch_mod_sens = lfo.pms
    for op in voice.ops:
        op.output_level = 0
    voice.ops[4].output_level, voice.ops[5].output_level = 99, 70  # a two-operator stack
    with torch.no_grad():
        audio = DX7(hold=1.9).render_voices([voice], sample_rate=SR, duration=2.0, note=Note(64.0))[0]
    v = vibrato_of(audio.numpy(), 64.0)
    assert v is not None
    assert v.rate_hz == pytest.approx(rate, rel=0.04)
    assert v.depth_cents == pytest.approx(depth, rel=0.2)
    assert v.onset == pytest.approx(onset, abs=0.15)


def test_fm_match_starts_from_the_targets_vibrato_and_refines_its_lfo():
    """A DX7 note with a delayed vibrato: fm_match's analytic start carries an LFO on the vibrato's
    rate and depth, and the refinement searches the LFO's speed, depth and delay; a steady note
    gets no pitch modulation and no LFO coordinates."""
    synth = DX7(hold=1.4)
    names = synth.spec.names

    def plan_for(pmd: int):
        voice = Voice(algorithm=4, lfo_wave=4, lfo_speed=34, lfo_delay=40, lfo_pmd=pmd)
        voice.pitch_mod_sens = 2
        for op in voice.ops:
            op.output_level = 0
        voice.ops[4].output_level, voice.ops[5].output_level = 95, 72
        with torch.no_grad():
            audio = synth.render_voices([voice], sample_rate=SR, duration=1.5, note=Note(62.0))[0]
        target = Target(audio, SR, "vibrato", note=Note(62.0))
        problem = Problem(synth, target, MultiScaleSpectral(SR, fft_sizes=[1024, 256]), Budget(40), seed=0)
        return analytic_plan(problem, keep=2), voice

    plan, voice = plan_for(pmd=30)
    start = synth.spec.to_physical(plan.x[:1])
    truth = _vibrato_cents(voice.lfo_pmd, voice.pitch_mod_sens)
    planned = _vibrato_cents(round(float(start["lfo_pmd"][0])), round(float(start["pitch_mod_sens"][0])))
    assert planned == pytest.approx(truth, rel=0.25)
    assert abs(float(start["lfo_speed"][0]) - 34) <= 2
    assert {names.index(n) for n in ("lfo_speed", "lfo_pmd", "lfo_delay")} <= set(plan.free)
    assert plan.analysis.vibrato is not None and math.isfinite(plan.analysis.vibrato.onset)

    steady, _ = plan_for(pmd=0)
    assert steady.analysis.vibrato is None
    assert float(synth.spec.to_physical(steady.x[:1])["lfo_pmd"][0]) == pytest.approx(0.0, abs=0.5)
    assert names.index("lfo_pmd") not in steady.free


def tremolo_tone(rate: float, depth_db: float, onset: float, decay_db_s: float = 3.0) -> np.ndarray:
    """Two partials whose level in dB swings ``depth_db`` (peak) at ``rate`` Hz from ``onset`` s (a
    0.2 s fade-in), over a decay of ``decay_db_s``."""
    t = np.arange(2 * SR) / SR
    ramp = np.clip((t - onset) / 0.2 + 0.5, 0.0, 1.0) if onset > 0 else np.ones_like(t)
    db = depth_db * ramp * np.sin(2 * np.pi * rate * t) - decay_db_s * t
    return 10.0 ** (db / 20.0) * (0.3 * np.sin(2 * np.pi * 330 * t) + 0.1 * np.sin(2 * np.pi * 660 * t))


@pytest.mark.parametrize("rate, depth, onset", [(4.0, 3.0, 0.0), (6.5, 1.5, 0.5)])
def test_a_tremolo_is_read_with_its_rate_depth_and_onset(rate, depth, onset):
    a = analyse(tremolo_tone(rate, depth, onset), SR)
    assert a.tremolo is not None and a.vibrato is None
    assert a.tremolo.rate_hz == pytest.approx(rate, abs=0.15)
    assert a.tremolo.depth_db == pytest.approx(depth, rel=0.15)
    assert a.tremolo.onset == pytest.approx(onset, abs=0.15)
    assert a.as_log()["tremolo_hz"] == pytest.approx(rate, abs=0.15)


def test_no_tremolo_is_read_where_there_is_none():
    t = np.arange(2 * SR) / SR
    assert analyse(tremolo_tone(5.0, 0.2, 0.0), SR).tremolo is None  # 0.2 dB: below what is looked for
    assert analyse(np.exp(-3.0 * t) * np.sin(2 * np.pi * 220 * t), SR).tremolo is None  # a plucked decay
    assert analyse(tone(lambda t: 40.0 * np.sin(2 * np.pi * 5.5 * t)), SR).tremolo is None  # a pitch swing


@pytest.mark.parametrize("rate, depth", [(5.0, 2.0), (6.0, 0.8), (4.5, 4.0)])
def test_the_lfo_planned_for_a_tremolo_plays_it_back_through_the_engine(rate, depth):
    """plan_lfo inverts the engine's amplitude modulation for the carrier's level: the voice it sets
    up sounds the tremolo it was asked for (read back by the same analysis): rate within 4%, depth
    within 20%; the smallest sensitivity that reaches the depth is used."""
    voice = Voice(algorithm=4, lfo_wave=4)
    for op in voice.ops:
        op.output_level = 0
    voice.ops[4].output_level, voice.ops[5].output_level = 90, 70
    level = carrier_octaves(voice.ops[4])
    lfo = plan_lfo(None, Tremolo(rate, depth, 0.0, 1.0), SR, carrier_level=level)
    assert lfo.pmd == 0 and lfo.ams >= 1
    assert lfo.ams == 1 or _tremolo_db(99, lfo.ams - 1, level) < depth
    voice.lfo_speed, voice.lfo_delay, voice.lfo_amd = lfo.speed, lfo.delay, lfo.amd
    voice.ops[4].amp_mod_sens = lfo.ams
    with torch.no_grad():
        audio = DX7(hold=1.9).render_voices([voice], sample_rate=SR, duration=2.0, note=Note(64.0))[0]
    tremolo = analyse(audio.numpy(), SR, Note(64.0)).tremolo
    assert tremolo is not None
    assert tremolo.rate_hz == pytest.approx(rate, rel=0.04)
    assert tremolo.depth_db == pytest.approx(depth, rel=0.2)


def test_fm_match_starts_from_the_targets_tremolo_and_refines_its_lfo():
    """A DX7 note with a tremolo: fm_match's analytic starts hold the best structure as it is and
    again with amplitude sensitivity on its sounding carriers and an LFO near the tremolo's rate
    (the rendered choice decides), and the refinement searches the LFO's speed, amp depth and
    delay (a steady note gets none: the other test)."""
    synth = DX7(hold=1.4)
    names = synth.spec.names
    voice = Voice(algorithm=4, lfo_wave=4, lfo_speed=30, lfo_delay=0, lfo_amd=80)
    for op in voice.ops:
        op.output_level = 0
    voice.ops[4].output_level, voice.ops[5].output_level = 95, 72
    voice.ops[4].amp_mod_sens = 2
    with torch.no_grad():
        audio = synth.render_voices([voice], sample_rate=SR, duration=1.5, note=Note(62.0))[0]
    problem = Problem(synth, Target(audio, SR, "tremolo", note=Note(62.0)),
                      MultiScaleSpectral(SR, fft_sizes=[1024, 256]), Budget(40), seed=0)
    plan = analytic_plan(problem, keep=2)
    assert plan.analysis.tremolo is not None
    starts = synth.spec.to_physical(plan.x)
    ams = torch.stack([starts[f"op{k}_ams"] for k in range(1, 7)], dim=1).round()
    assert ams[0].max() == 0  # the best structure as it is
    trembling = [i for i in range(len(plan.x)) if ams[i].max() >= 1]
    assert trembling and len(trembling) == len(plan.x) - 2  # keep=2 structures, then the twin
    i = trembling[0]
    assert abs(float(starts["lfo_speed"][i]) - 30) <= 2 and float(starts["lfo_amd"][i]) > 10
    assert {names.index(n) for n in ("lfo_speed", "lfo_amd", "lfo_delay")} <= set(plan.free)


@pytest.mark.parametrize("lag, drawn", [(0.0, True), (np.pi, False)])
def test_a_tremolo_is_drawn_beside_a_vibrato_only_when_one_lfo_can_draw_both(lag, drawn):
    """The DX7's sine LFO raises pitch and level together: a level swing in phase with the vibrato
    is offered (a bowed string), one against it (a trumpet's) is not."""
    from solvers.fm_voice import lfo_draws_tremolo

    t = np.arange(2 * SR) / SR
    swing = 2 * np.pi * 5.5 * t
    x = tone(lambda t: 30.0 * np.sin(2 * np.pi * 5.5 * t)) * 10.0 ** (1.5 * np.sin(swing + lag) / 20.0)
    a = analyse(x, SR)
    assert a.vibrato is not None and a.tremolo is not None
    assert lfo_draws_tremolo(a) is drawn
