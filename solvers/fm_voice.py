"""From an analysed target and an FM structure to a start point of a synth: DX7 voices and fm2 parameters.

Every DX7 value is chosen by inverting the engine's own tables numerically
(:mod:`synths.dx7.envelope`, :mod:`synths.dx7.engine`), never by a formula of
our own: the output level for a gain, the EG level for a drop in dB, the EG
rate for a slope in dB/s or an attack time, and the coarse / fine / detune
whose frequency is nearest a wanted one at the note played.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from analysis.target import TargetAnalysis
from solvers.fm_motion import carrier_octaves, plan_lfo
from solvers.fm_spectrum import CARRIER_RATIOS, FEEDBACKS, MOD_RATIOS, Slot, Stack, Structure
from synths.base import note_off_time
from synths.dx7 import engine
from synths.dx7.algorithms import algorithm
from synths.dx7.envelope import ATTACK_JUMP, RISE_CEILING, amp_rate, amp_target, scale_level
from synths.dx7.lfo import WAVES
from synths.dx7.voice import Voice

DB_PER_OCTAVE = 20.0 * math.log10(2.0)
DEFAULT_ALGORITHM = 5  # three two-operator stacks, feedback on OP6: every structure of up to 3 stacks


# ---- the engine's tables, inverted -----------------------------------------------------------


@cache
def _rate_db_per_s() -> np.ndarray:
    """dB/s of EG rates 0..99 (no rate scaling) ``[100]``."""
    r = torch.arange(100, dtype=torch.float64)
    return (amp_rate(r, torch.zeros(())) * DB_PER_OCTAVE).numpy()


def rate_for_slope(db_per_s: float) -> int:
    """The EG rate whose slope is nearest ``db_per_s`` (> 0) on a log scale."""
    table = _rate_db_per_s()
    return int(np.argmin(np.abs(np.log(table) - math.log(max(db_per_s, 1e-3)))))


def _outlevel(output_level: int) -> torch.Tensor:
    return 32.0 * scale_level(torch.tensor(float(output_level), dtype=torch.float64))


@cache
def _gain_table() -> np.ndarray:
    """Operator gain at EG level L and output level OL, ``[100, 100]`` (0 where the EG floor silences it)."""
    lv = torch.arange(100, dtype=torch.float64)[:, None]
    outlevel = 32.0 * scale_level(torch.arange(100, dtype=torch.float64))[None, :]
    a = amp_target(lv.expand(100, 100), outlevel.expand(100, 100))
    return torch.where(a > 16.5 / 256, torch.exp2(a - 14.0), torch.zeros_like(a)).numpy()


def op_gain(level: int, output_level: int) -> float:
    """The operator's gain at EG level and OL (1.0 = one cycle of modulation; a carrier sounds at half)."""
    return float(_gain_table()[int(level), int(output_level)])


def output_level_for_gain(gain: float, level: int = 99) -> int:
    """The output level 0..99 whose gain at EG ``level`` is nearest ``gain`` (log scale; 0 for silence)."""
    if gain <= 0:
        return 0
    gains = _gain_table()[int(level)]
    ok = gains > 0
    err = np.where(ok, np.abs(np.log(np.maximum(gains, 1e-30)) - math.log(gain)), np.inf)
    return int(np.argmin(err))


def level_for_drop(drop_db: float, output_level: int, top: int = 99) -> int:
    """The EG level whose gain is ``drop_db`` (>= 0) below that of ``top``, at this output level."""
    ref = op_gain(top, output_level)
    if ref <= 0:
        return top
    best, best_err = top, math.inf
    for lv in range(top, -1, -1):
        g = op_gain(lv, output_level)
        d = 20.0 * math.log10(ref / g) if g > 0 else 200.0
        if abs(d - drop_db) < best_err:
            best, best_err = lv, abs(d - drop_db)
    return best


def rate_for_attack(seconds: float, level: int, output_level: int) -> int:
    """The EG rate 0..99 whose rise from silence to ``level`` lasts nearest ``seconds`` (log scale)."""
    a = float(amp_target(torch.tensor(float(level), dtype=torch.float64), _outlevel(output_level)))
    gap0, gap1 = RISE_CEILING - ATTACK_JUMP, max(RISE_CEILING - a, 1e-3)
    speeds = _rate_db_per_s() / DB_PER_OCTAVE
    durations = np.maximum(math.log(gap0 / gap1), 1e-6) / speeds
    return int(np.argmin(np.abs(np.log(durations) - math.log(max(seconds, 1e-3)))))


@cache
def _ratio_grid(note: float) -> tuple[np.ndarray, np.ndarray]:
    """log2 Hz ``[32*100*15]`` of every (coarse, fine, detune) in ratio mode at MIDI ``note``, and them."""
    c, f, d = np.meshgrid(np.arange(32), np.arange(100), np.arange(15), indexing="ij")
    settings = np.stack([c.ravel(), f.ravel(), d.ravel()], axis=1)
    ops = {
        "coarse": torch.tensor(settings[:, :1], dtype=torch.float64),
        "fine": torch.tensor(settings[:, 1:2], dtype=torch.float64),
        "detune": torch.tensor(settings[:, 2:3], dtype=torch.float64),
        "mode": torch.zeros(len(settings), 1, dtype=torch.float64),
    }
    log2_hz = engine.operator_log2_hz(torch.tensor([note], dtype=torch.float64), ops)[:, 0].numpy()
    return log2_hz, settings


def tune(hz: float, note: float) -> tuple[int, int, int]:
    """(coarse, fine, detune) in ratio mode whose frequency at MIDI ``note`` is nearest ``hz``;
    among near-equals (within 0.5 cent) the one with detune nearest centre and the smallest fine."""
    log2_hz, settings = _ratio_grid(round(float(note), 4))
    err = np.abs(log2_hz - math.log2(hz)) * 1200.0
    close = err <= err.min() + 0.5
    cost = np.where(close, np.abs(settings[:, 2] - 7) * 100 + settings[:, 1], np.inf)
    c, f, d = settings[int(np.argmin(cost))]
    return int(c), int(f), int(d)


# ---- the slots of an algorithm ------------------------------------------------------------------


@dataclass(frozen=True)
class SlotOps:
    """Operators of one slot: the carrier, its modulator (None: none), whether the modulator (or the
    lone carrier) is the algorithm's feedback operator."""

    carrier: int
    modulator: int | None
    feedback: bool


def algorithm_slots(number: int, max_slots: int = 3) -> list[SlotOps]:
    """Up to ``max_slots`` slots of a DX7 algorithm: each carrier with its first direct modulator."""
    algo = algorithm(number)
    self_loop = algo.feedback[0] if algo.feedback[0] == algo.feedback[1] else None
    out = []
    for c in algo.carriers[:max_slots]:
        mods = algo.modulators_of(c)
        m = mods[-1] if mods else None  # the highest-numbered: the feedback operator where there is one
        out.append(SlotOps(c, m, self_loop is not None and self_loop == (m if m is not None else c)))
    return out


def search_slots(
    ops: list[SlotOps],
    fixed_ratios: list[float] | None,
    fixed_feedback: int | None,
    extra_carriers: tuple[float, ...] = (),
    extra_modulators: tuple[float, ...] = (),
) -> list[Slot]:
    """What each slot may hold in the analytic search: the first carrier sits on f0 (ratio 1); with
    ``fixed_ratios`` (OP1..OP6) every ratio is the synth's."""
    out = []
    for i, s in enumerate(ops):
        fbs = (fixed_feedback,) if fixed_feedback is not None else FEEDBACKS
        fbs = fbs if s.feedback else (0,)
        if fixed_ratios is not None:
            mods: tuple[float | None, ...] = (None,)
            if s.modulator is not None:
                mods = (float(fixed_ratios[s.modulator - 1]), None)
            out.append(Slot((float(fixed_ratios[s.carrier - 1]),), mods, fbs))
            continue
        carriers = (1.0,) if i == 0 else tuple(dict.fromkeys(CARRIER_RATIOS + extra_carriers))
        mods = (None,) if s.modulator is None else (None, *dict.fromkeys(MOD_RATIOS + extra_modulators))
        out.append(Slot(carriers, mods, fbs if s.modulator is not None else (0,)))
    return out


# ---- the envelope -----------------------------------------------------------------------------


@dataclass
class EnvelopePlan:
    """EG rates and levels of a carrier and of a modulator (4 each), from the target's segments."""

    carrier_rates: list[int]
    carrier_levels: list[int]
    modulator_rates: list[int]
    modulator_levels: list[int]


def plan_envelope(analysis: TargetAnalysis, output_level: int, hold: float) -> EnvelopePlan:
    """Carrier EG: rise in the attack time to L1 = 99, fall at the decay's slope to the sustain level,
    then follow the body's slope (to silence when the note decays), and release at the measured slope
    (or, when the synth's note-off comes while the target still sustains, at the body's slope).
    Modulator EG: flat at 99 (a steady timbre) with the carrier's attack and release."""
    env = analysis.envelope
    r1 = rate_for_attack(max(env.attack, 0.002), 99, output_level)
    drop = max(0.0, env.peak_db - env.sustain_db)
    l2 = level_for_drop(drop, output_level)
    r2 = rate_for_slope(drop / env.decay) if drop > 0.5 and env.decay > 0 else 99
    if env.sustain_slope < -0.5:  # a decaying body (piano, plucks, mallets): fall on toward silence
        l3, r3 = 0, rate_for_slope(-env.sustain_slope)
    else:
        l3, r3 = l2, 99
    if env.release_slope is not None and env.note_off <= hold + 0.02:
        r4 = rate_for_slope(-env.release_slope)
    else:  # the note still sounds at the synth's note-off: release as the body goes on
        r4 = rate_for_slope(max(-env.sustain_slope, 0.25))
    return EnvelopePlan([r1, r2, r3, r4], [99, l2, l3, 0], [r1, 99, 99, r4], [99, 99, 99, 0])


# ---- the voice ----------------------------------------------------------------------------------


def _body_amplitudes(structure: Structure, analysis: TargetAnalysis) -> list[float]:
    """Each stack's carrier amplitude (linear full scale) where the body of the note starts (the EG's L2).

    The fitted gains match the harmonic amplitudes of the long-term spectrum, an
    average over the sounding frames; they are lifted by the body's level at its
    start (``envelope.sustain_db``) over the RMS those amplitudes make, so a
    decaying note starts as loud as it does. (The power of a stack is not its
    carrier's ``amp^2 / 2`` when its ratios are commensurate, so levels come from
    the fitted amplitudes, not from an RMS of the carrier.)
    """
    lift = 1.0
    if analysis.partials is not None and analysis.partials.harmonics.max() > 0:
        spectrum_db = 10.0 * math.log10(float((analysis.partials.harmonics**2).sum()) / 2.0)
        lift = 10.0 ** ((analysis.envelope.sustain_db - spectrum_db) / 20.0)
    return [0.0 if s is None else s.gain * lift for s in structure.stacks]


def _start_voice(base: Voice, number: int, analysis: TargetAnalysis, sample_rate: float) -> Voice:
    """A copy of ``base`` on algorithm ``number`` with no feedback, no amplitude modulation, the pitch
    EG neutral and the LFO drawing the target's vibrato (:func:`plan_lfo`; none: no pitch depth).
    A tremolo's depth goes on the carriers once their levels are known (:func:`with_tremolo`)."""
    voice = copy.deepcopy(base)
    voice.algorithm = number - 1
    voice.pitch_levels, voice.pitch_rates = [50, 50, 50, 50], [99, 99, 99, 99]
    voice.lfo_pmd = voice.lfo_amd = 0
    voice.feedback = 0
    if analysis.vibrato is not None or analysis.tremolo is not None:
        lfo = plan_lfo(analysis.vibrato, analysis.tremolo, sample_rate)
        voice.lfo_wave, voice.lfo_sync = WAVES.index("sine"), 1
        voice.lfo_speed, voice.lfo_delay, voice.lfo_pmd = lfo.speed, lfo.delay, lfo.pmd
        voice.pitch_mod_sens = lfo.pms
    return voice


IN_PHASE = math.pi / 3  # radians: a level swing this near its vibrato's phase is one LFO's to draw


def lfo_draws_tremolo(analysis: TargetAnalysis) -> bool:
    """Whether the target has a tremolo the DX7's one LFO can draw beside its vibrato: no vibrato,
    or one within 10% of the tremolo's rate whose pitch peaks within ``IN_PHASE`` of the level's
    peaks at the body's middle (a sine LFO raises the pitch and the level together)."""
    vib, trem = analysis.vibrato, analysis.tremolo
    if trem is None:
        return False
    if vib is None:
        return True
    if abs(trem.rate_hz - vib.rate_hz) > 0.1 * vib.rate_hz:
        return False
    middle = 0.5 * (analysis.envelope.attack_end + analysis.envelope.note_off)
    apart = 2.0 * math.pi * (trem.rate_hz - vib.rate_hz) * middle + trem.phase - vib.phase
    return abs(math.remainder(apart, 2.0 * math.pi)) <= IN_PHASE


def with_tremolo(voice: Voice, analysis: TargetAnalysis, sample_rate: float) -> Voice | None:
    """A copy of ``voice`` (made by :func:`dx7_voice` or :func:`additive_voice`) with the target's
    tremolo on its sounding carriers: their amp-mod sensitivity and the LFO's depth, planned for
    the loudest of them (:func:`plan_lfo`; modulators are left alone: their level is timbre).
    None when the target has no tremolo the LFO can draw (:func:`lfo_draws_tremolo`) or the voice
    no sounding carrier.

    A start of its own beside ``voice``, not in its place: the DX7's LFO starts at a fixed phase
    at note-on, and a level swing against the target's phase costs more than none (on FluidR3's
    trumpet at MIDI 72 it did, 22.4 -> 32.0 dB at 2000 renders: its level swings against its
    vibrato, which one LFO cannot draw), so the rendered choice decides."""
    if not lfo_draws_tremolo(analysis):
        return None
    voice = copy.deepcopy(voice)
    carriers = algorithm(voice.algorithm + 1).carriers
    sounding = [voice.ops[c - 1] for c in carriers if voice.ops[c - 1].output_level > 0]
    if not sounding:
        return None
    level = max(carrier_octaves(op) for op in sounding)
    lfo = plan_lfo(analysis.vibrato, analysis.tremolo, sample_rate, carrier_level=level)
    voice.lfo_amd = lfo.amd
    for op in sounding:
        op.amp_mod_sens = lfo.ams
    return voice


def dx7_voice(
    base: Voice,
    number: int,
    ops: list[SlotOps],
    structure: Structure,
    analysis: TargetAnalysis,
    note_pitch: float,
    hold: float,
    tune_ratios: bool,
    sample_rate: float = 48000.0,
) -> Voice:
    """The DX7 voice of ``structure`` on algorithm ``number``; see the module docstring.

    ``note_pitch``: the MIDI note the synth plays (before transpose). With
    ``tune_ratios`` every operator's coarse / fine / detune is chosen so that
    ratio r sounds at r * f0 (the measured f0); otherwise the base voice's
    frequencies are kept. A vibrato the analysis found is drawn by the LFO
    (:func:`plan_lfo`, the synth running at ``sample_rate``); otherwise its
    pitch depth is 0.
    """
    voice = _start_voice(base, number, analysis, sample_rate)
    played = note_pitch + voice.transpose - 24
    f0 = analysis.f0_hz or 440.0 * 2 ** ((played - 69) / 12)
    for op in voice.ops:
        op.output_level, op.amp_mod_sens = 0, 0
    amps = _body_amplitudes(structure, analysis)
    for slot, stack, amp in zip(ops, structure.stacks, amps, strict=False):
        if stack is None or amp <= 0:
            continue
        carrier = voice.ops[slot.carrier - 1]
        # a carrier sounds at half its gain; its body is the EG's L2 (the level after the decay)
        plan = plan_envelope(analysis, output_level_for_gain(2.0 * amp), hold)
        carrier.output_level = output_level_for_gain(2.0 * amp, level=plan.carrier_levels[1])
        carrier.rates, carrier.levels = plan.carrier_rates, plan.carrier_levels
        if tune_ratios:
            carrier.mode = 0
            carrier.coarse, carrier.fine, carrier.detune = tune(stack.c * f0, played)
        if slot.feedback and stack.feedback:
            voice.feedback = int(stack.feedback)
        if slot.modulator is not None and stack.m is not None and stack.index > 0:
            mod = voice.ops[slot.modulator - 1]
            mod.output_level = output_level_for_gain(stack.index / (2 * math.pi))
            mod.rates, mod.levels = plan.modulator_rates, plan.modulator_levels
            if tune_ratios:
                mod.mode = 0
                mod.coarse, mod.fine, mod.detune = tune(stack.m * f0, played)
    return voice


# ---- breath: a noise stack --------------------------------------------------------------------

BREATHY_DB = -45.0  # targets noisier than this (noise-to-harmonic ratio, dB) are offered breath
BREATH_FEEDBACK = 7
BREATH_MODULATOR_LEVEL = 95  # OP output level of the feedback modulator: its output is near noise


def with_breath(
    voice: Voice, ops: list[SlotOps], structure: Structure, analysis: TargetAnalysis, hold: float
) -> tuple[Voice, Structure] | None:
    """``voice`` (of ``structure``) with breath in its feedback slot (in place of what the slot
    held, usually the weakest stack: the search fills slots strongest first): the slot's carrier on
    the note's pitch, modulated by its feedback operator at feedback 7 and a high output level,
    which turns the stack into noise around the carrier; the carrier's level puts that noise at
    the target's noise-to-harmonic ratio under the body's level, with the note's envelope (note-off
    at ``hold`` s). (Phase modulation keeps a carrier's power, so its level sets the noise's.) With
    the structure it stands for; None when the target is not breathy or the algorithm has no
    feedback slot."""
    noisiness = analysis.noisiness
    slot = next((k for k, o in enumerate(ops) if o.feedback and o.modulator is not None), None)
    if noisiness is None or noisiness < BREATHY_DB or slot is None:
        return None
    share = 10.0 ** (noisiness / 10.0)
    noise_rms = 10.0 ** (analysis.envelope.sustain_db / 20.0) * math.sqrt(share / (1.0 + share))
    out = copy.deepcopy(voice)
    modulator_op = ops[slot].modulator
    assert modulator_op is not None
    carrier, modulator = out.ops[ops[slot].carrier - 1], out.ops[modulator_op - 1]
    gain = 2.0 * math.sqrt(2.0) * noise_rms  # a carrier sounds at half its gain; peak = sqrt(2) rms
    plan = plan_envelope(analysis, output_level_for_gain(gain), hold)
    carrier.output_level = output_level_for_gain(gain, level=plan.carrier_levels[1])
    carrier.rates, carrier.levels = plan.carrier_rates, plan.carrier_levels
    modulator.output_level = BREATH_MODULATOR_LEVEL
    modulator.rates, modulator.levels = plan.modulator_rates, plan.modulator_levels
    for op in (carrier, modulator):
        op.mode, op.coarse, op.fine, op.detune = 0, 1, 0, 7
    out.feedback = BREATH_FEEDBACK
    stacks = list(structure.stacks) + [None] * (len(ops) - len(structure.stacks))
    stacks[slot] = Stack(1.0, 1.0, feedback=BREATH_FEEDBACK, gain=gain / 2.0)
    return out, Structure(stacks)


# ---- algorithm 32: partials side by side ----------------------------------------------------------

ADDITIVE_ALGORITHM = 32  # six carriers side by side (OP6 feeds back on itself; kept at 0 here)
PARTIAL_SPAN_DB = 40.0  # a partial's decay is fitted while it stays within this of its loudest


def partial_decay(times: np.ndarray, track: np.ndarray, until: float) -> tuple[float, float]:
    """A partial's loudest amplitude (linear full scale) and the slope (dB/s) of its level from there
    on, fitted while it stays within ``PARTIAL_SPAN_DB`` of its loudest and before ``until`` s."""
    db = 20.0 * np.log10(np.maximum(track, 1e-12))
    top = int(np.argmax(db))
    after = np.arange(top, len(db))
    keep = after[(db[after] >= db[top] - PARTIAL_SPAN_DB) & (times[after] <= until)]
    if len(keep) < 3:
        return float(track[top]), 0.0
    return float(track[top]), float(np.polyfit(times[keep], db[keep], 1)[0])


def additive_voice(
    base: Voice, analysis: TargetAnalysis, note_pitch: float, hold: float, sample_rate: float = 48000.0
) -> tuple[Voice, Structure] | None:
    """Algorithm 32 with each of its six carriers on one of the target's strongest partials: its own
    frequency (harmonic or not: a bell's or a bar's partials), its loudest level, its own decay
    (each operator's EG: a fast-dying upper partial, a long hum), the note's attack and release.
    With the structure it stands for (lone carriers); None when the target has no partials.
    (A sine per partial: what FM stacks cannot place, inharmonic partials, it can.)"""
    p = analysis.partials
    if p is None or not p.peaks or not len(p.tracks):
        return None
    voice = _start_voice(base, ADDITIVE_ALGORITHM, analysis, sample_rate)
    played = note_pitch + voice.transpose - 24
    stacks = []
    for op, (k, partial) in zip(voice.ops, enumerate(p.peaks[:6]), strict=False):
        amp, slope = partial_decay(p.times, p.tracks[:, k], analysis.envelope.note_off)
        op.output_level = output_level_for_gain(2.0 * amp)  # a carrier sounds at half its gain
        plan = plan_envelope(analysis, op.output_level, hold)
        r3, l3 = (rate_for_slope(-slope), 0) if slope < -0.5 else (99, 99)
        op.rates, op.levels = [plan.carrier_rates[0], 99, r3, plan.carrier_rates[3]], [99, 99, l3, 0]
        op.mode, op.amp_mod_sens = 0, 0
        op.coarse, op.fine, op.detune = tune(partial.hz, played)
        stacks.append(Stack(partial.ratio, None, gain=amp))
    for op in voice.ops[len(stacks) :]:
        op.output_level = 0
    return voice, Structure(stacks)


# ---- fm2 ----------------------------------------------------------------------------------------


def fm2_values(structure: Structure, analysis: TargetAnalysis, duration: float, hold: float | None) -> dict:
    """Physical values of the ``fm2`` synth (ratio, index, gain, ADSR, index depth) for one stack."""
    stack = next((s for s in structure.stacks if s is not None), Stack(1.0, 1.0))
    env = analysis.envelope
    adsr = env.adsr(note_off_time(duration, hold))
    amp = _body_amplitudes(Structure([stack]), analysis)[0] / max(adsr["sustain"], 1e-3)
    if amp <= 0:  # no stack fitted: the level of a sine at the peak
        amp = 10.0 ** (env.peak_db / 20.0) * math.sqrt(2.0)
    return {
        "ratio": stack.m if stack.m is not None else 1.0,
        "index": stack.index if stack.m is not None else 0.0,
        "gain": amp,
        **adsr,
        "index_depth": 0.0,
    }


# ---- fm2: a continuous modulator ratio read from the sidebands ----------------------------------

RATIO_PEAKS = 8  # strongest spectral peaks whose offsets from the carrier are offered as ratios
RATIO_PEAK_DB = -40.0  # peaks within this of the strongest count
RATIO_SAME = 0.01  # ratios within 1% are one candidate


def sideband_ratios(
    audio: np.ndarray,
    sample_rate: int,
    carrier_hz: float,
    low: float = 0.25,
    high: float = 8.0,
    limit: int = 6,
) -> list[float]:
    """Modulator ratios (modulator / carrier frequency) that explain ``audio``'s spectral peaks as FM
    sidebands ``|f_c + k f_m|`` of a carrier at ``carrier_hz``: for each of the strongest peaks p,
    ``|p - f_c| / f_c`` (a first sideband) and ``(p + f_c) / f_c`` (a lower sideband folded through
    0 Hz), then the spacings of neighbouring peaks. Strongest evidence first, ``limit`` at most,
    each within ``[low, high]``; peak frequencies refined by a parabola on the log magnitudes."""
    from scipy.signal import find_peaks

    from analysis.harmonics import long_term_spectrum
    from analysis.partials import refined_peak

    freqs, mag = long_term_spectrum(np.asarray(audio, dtype=np.float64).reshape(-1), sample_rate)
    db = 20.0 * np.log10(np.maximum(mag, 1e-12))
    found, _ = find_peaks(db, height=db.max() + RATIO_PEAK_DB)
    found = found[(found > 0) & (found < len(db) - 1)]
    found = found[np.argsort(db[found])[::-1][:RATIO_PEAKS]]
    step = freqs[1] - freqs[0]
    peaks = np.array([refined_peak(freqs, mag, int(k))[0] for k in found])
    offered = [abs(p - carrier_hz) / carrier_hz for p in peaks if abs(p - carrier_hz) > 2 * step]
    offered += [(p + carrier_hz) / carrier_hz for p in peaks]
    ordered = np.sort(peaks)
    offered += [float(d) / carrier_hz for d in np.diff(ordered) if d > 2 * step]
    offered += [r / k for r in list(offered) for k in (2, 3)]  # a peak may be the 2nd or 3rd sideband
    distinct: list[float] = []
    for r in offered:
        if low <= r <= high and all(abs(math.log(r / q)) > RATIO_SAME for q in distinct):
            distinct.append(float(r))
    # rank by the peak energy each ratio explains as sidebands |f_c + k f_m|, |k| <= 12, then by the
    # larger ratio (r/2 explains whatever r does, and more lines that are not there)
    weight = 10.0 ** (db[found] / 20.0)
    tolerance = 2.0 * step

    def explained(r: float) -> float:
        lines = np.abs(carrier_hz + np.arange(-12, 13)[:, None] * r * carrier_hz)
        return float(weight[(np.abs(lines - peaks[None, :]) <= tolerance).any(axis=0)].sum())

    return sorted(distinct, key=lambda r: (-round(explained(r) / weight.sum(), 2), -r))[:limit]
