"""The fidelity study's voices: 24 hand-made ones that exercise the engine broadly, random voices
from the dx7 sampler, voices drawn over the whole parameter space, and voices that solver runs
exported on recorded notes.

They cover every algorithm group (1 to 6 carriers), operator feedback (self and
the cross feedback of algorithms 4 and 6), fixed-frequency operators, detune,
fast percussive and slow swelling envelopes, velocity sensitivity, keyboard
rate scaling, a pitch envelope, and the LFO (vibrato and tremolo, key-synced so
its phase at note-on is defined, and the same two with key sync off).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from benchmark.paths import DATA_DIR
from synths.dx7.voice import OperatorData, Voice

# 11 fm_match and 7 cma matches of gm_notes (dx7, 2000 renders), exported from their match.syx
SOLVER_MATCHES = DATA_DIR / "fidelity" / "solver_matches.syx"

FAST = (99, 99, 99, 99)


def op(
    level: int,
    coarse: int = 1,
    fine: int = 0,
    rates: Sequence[int] = FAST,
    levels: Sequence[int] = (99, 99, 99, 0),
    *,
    fixed: bool = False,
    detune: int = 7,
    velocity_sens: int = 0,
    rate_scaling: int = 0,
    amp_mod_sens: int = 0,
) -> OperatorData:
    """One operator; ``coarse``/``fine`` as on the DX7 (ratio, or 10**(coarse%4 + fine/100) Hz if fixed)."""
    return OperatorData(
        rates=list(rates),
        levels=list(levels),
        output_level=level,
        mode=int(fixed),
        coarse=coarse,
        fine=fine,
        detune=detune,
        velocity_sens=velocity_sens,
        rate_scaling=rate_scaling,
        amp_mod_sens=amp_mod_sens,
    )


def voice(name: str, algorithm: int, feedback: int, ops: Sequence[OperatorData], **extra) -> Voice:
    """A voice from OP1..OP6 and the algorithm as musicians count it (1-32)."""
    return Voice(ops=list(ops), algorithm=algorithm - 1, feedback=feedback, name=name[:10].ljust(10), **extra)


def fidelity_voices() -> list[Voice]:
    """The 24 hand-made study voices, in a fixed order (names are unique)."""
    decay = (99, 40, 30, 60)
    voices = [
        voice("E.PIANO", 5, 6, [
            op(99, 1, rates=(96, 25, 25, 67), levels=(99, 75, 0, 0)),
            op(58, 14, rates=(95, 50, 35, 78), levels=(99, 75, 0, 0)),
            op(99, 1, rates=(95, 20, 20, 50), levels=(99, 95, 0, 0)),
            op(89, 1, rates=(95, 29, 20, 50), levels=(99, 95, 0, 0)),
            op(99, 1, rates=(95, 20, 20, 50), levels=(99, 95, 0, 0), detune=10),
            op(79, 1, rates=(95, 29, 20, 50), levels=(99, 95, 0, 0), detune=4),
        ]),
        voice("BRASS", 22, 7, [
            op(98, 1, rates=(72, 76, 99, 71), levels=(99, 88, 96, 0)),
            op(86, 1, rates=(62, 51, 29, 71), levels=(82, 95, 96, 0)),
            op(99, 1, rates=(77, 76, 82, 71), levels=(99, 98, 98, 0), detune=6),
            op(99, 1, rates=(77, 36, 41, 71), levels=(99, 98, 98, 0), detune=8),
            op(98, 1, rates=(77, 36, 41, 71), levels=(99, 98, 98, 0)),
            op(82, 1, rates=(49, 99, 28, 68), levels=(98, 98, 91, 0)),
        ]),
        voice("STRINGS", 2, 7, [
            op(99, 1, rates=(45, 24, 20, 41), levels=(99, 85, 70, 0)),
            op(80, 1, rates=(75, 71, 17, 49), levels=(82, 92, 62, 0)),
            op(99, 1, rates=(44, 45, 20, 54), levels=(99, 85, 82, 0), detune=9),
            op(70, 1, rates=(96, 19, 20, 54), levels=(99, 92, 86, 0)),
            op(74, 3, rates=(53, 19, 20, 54), levels=(86, 92, 86, 0)),
            op(62, 14, rates=(53, 19, 20, 54), levels=(99, 92, 86, 0)),
        ]),
        voice("BASS", 16, 5, [
            op(99, 0, rates=(99, 35, 25, 70), levels=(99, 80, 0, 0)),
            op(80, 0, rates=(99, 45, 30, 70), levels=(99, 60, 0, 0)),
            op(72, 1, rates=(99, 60, 30, 70), levels=(99, 50, 0, 0)),
            op(75, 3, rates=(99, 50, 30, 70), levels=(99, 50, 0, 0)),
            op(70, 1, rates=(99, 70, 30, 70), levels=(99, 40, 0, 0)),
            op(68, 1, rates=(99, 60, 30, 70), levels=(99, 50, 0, 0)),
        ]),
        voice("ORGAN", 32, 7, [
            op(94, 0), op(99, 1), op(89, 2), op(84, 3), op(79, 4), op(72, 8),
        ]),
        voice("BELL", 5, 0, [
            op(99, 1, rates=(99, 30, 20, 40), levels=(99, 70, 0, 0)),
            op(80, 3, 50, rates=(99, 30, 20, 40), levels=(99, 60, 0, 0)),
            op(92, 2, rates=(99, 35, 20, 40), levels=(99, 65, 0, 0)),
            op(78, 1, 41, rates=(99, 30, 20, 40), levels=(99, 60, 0, 0), fixed=True),  # 1 Hz * 10**0.41
            op(88, 4, rates=(99, 28, 20, 40), levels=(99, 70, 0, 0)),
            op(70, 7, rates=(99, 30, 20, 40), levels=(99, 60, 0, 0)),
        ]),
        voice("MARIMBA", 17, 4, [
            op(99, 1, rates=(99, 55, 40, 60), levels=(99, 0, 0, 0)),
            op(75, 4, rates=(99, 80, 40, 60), levels=(99, 0, 0, 0)),
            op(70, 10, rates=(99, 85, 40, 60), levels=(99, 0, 0, 0)),
            op(65, 1, rates=(99, 70, 40, 60), levels=(99, 0, 0, 0)),
            op(60, 3, rates=(99, 75, 40, 60), levels=(99, 0, 0, 0)),
            op(72, 2, rates=(99, 60, 40, 60), levels=(99, 0, 0, 0)),
        ]),
        voice("CLAV", 3, 6, [
            op(99, 1, rates=decay, levels=(99, 70, 0, 0)),
            op(82, 3, rates=decay, levels=(99, 70, 0, 0)),
            op(78, 5, rates=decay, levels=(99, 60, 0, 0)),
            op(99, 1, rates=decay, levels=(99, 70, 0, 0), detune=9),
            op(75, 2, rates=decay, levels=(99, 60, 0, 0)),
            op(70, 1, rates=decay, levels=(99, 60, 0, 0)),
        ]),
        voice("HARP", 24, 5, [
            op(99, 1, rates=(99, 40, 25, 50), levels=(99, 80, 0, 0)),
            op(90, 2, rates=(99, 45, 25, 50), levels=(99, 75, 0, 0)),
            op(85, 1, rates=(99, 40, 25, 50), levels=(99, 80, 0, 0), detune=11),
            op(84, 3, rates=(99, 50, 25, 50), levels=(99, 70, 0, 0)),
            op(80, 4, rates=(99, 55, 25, 50), levels=(99, 70, 0, 0)),
            op(76, 1, rates=(99, 60, 25, 50), levels=(99, 60, 0, 0)),
        ]),
        voice("FIXED PERC", 31, 3, [
            op(95, 2, 30, rates=(99, 50, 30, 50), levels=(99, 40, 0, 0), fixed=True),  # 100 Hz * 10**0.3
            op(90, 3, 0, rates=(99, 65, 30, 50), levels=(99, 20, 0, 0), fixed=True),  # 1000 Hz
            op(85, 1, rates=(99, 45, 30, 50), levels=(99, 50, 0, 0)),
            op(80, 2, rates=(99, 55, 30, 50), levels=(99, 40, 0, 0)),
            op(80, 1, rates=(99, 60, 30, 50), levels=(99, 40, 0, 0)),
            op(75, 7, rates=(99, 70, 30, 50), levels=(99, 30, 0, 0)),
        ]),
        voice("ALG28 FB", 28, 7, [
            op(99, 1), op(78, 2), op(99, 1), op(80, 1, rates=(80, 50, 40, 60), levels=(99, 80, 70, 0)),
            op(76, 3), op(90, 2),
        ]),
        voice("ALG4 XFB", 4, 6, [
            op(99, 1), op(75, 1), op(70, 2), op(99, 1, detune=8), op(72, 1), op(74, 1),
        ]),
        voice("ALG6 XFB", 6, 7, [
            op(99, 1), op(70, 2), op(99, 2), op(72, 1), op(94, 1), op(70, 1),
        ]),
        voice("ALG21", 21, 5, [
            op(99, 1, rates=(70, 40, 30, 60), levels=(99, 90, 80, 0)),
            op(95, 2, rates=(70, 40, 30, 60), levels=(99, 90, 80, 0)),
            op(76, 3),
            op(94, 1, rates=(70, 40, 30, 60), levels=(99, 90, 80, 0), detune=5),
            op(90, 4, rates=(70, 40, 30, 60), levels=(99, 90, 80, 0)),
            op(72, 1),
        ]),
        voice("ALG25", 25, 4, [
            op(99, 1), op(90, 2), op(88, 3), op(86, 4), op(92, 1, detune=12), op(74, 2),
        ]),
        voice("SLOW PAD", 10, 3, [
            op(99, 1, rates=(30, 25, 20, 35), levels=(99, 90, 85, 0)),
            op(72, 2, rates=(35, 25, 20, 35), levels=(99, 85, 80, 0)),
            op(70, 1, rates=(40, 25, 20, 35), levels=(99, 85, 80, 0)),
            op(99, 1, rates=(32, 25, 20, 35), levels=(99, 90, 85, 0), detune=9),
            op(68, 3, rates=(38, 25, 20, 35), levels=(99, 85, 80, 0)),
            op(66, 1, rates=(36, 25, 20, 35), levels=(99, 85, 80, 0)),
        ]),
        voice("DETUNED", 1, 0, [
            op(99, 1, detune=0), op(70, 1, detune=14), op(99, 1, detune=14), op(74, 2, detune=0),
            op(70, 1), op(68, 1),
        ]),
        voice("FLUTE", 18, 2, [
            op(99, 1, rates=(60, 50, 40, 55), levels=(99, 95, 92, 0)),
            op(70, 1, rates=(80, 60, 40, 55), levels=(99, 85, 80, 0)),
            op(66, 1, rates=(75, 60, 40, 55), levels=(99, 80, 70, 0)),
            op(64, 2, rates=(75, 60, 40, 55), levels=(99, 80, 70, 0)),
            op(62, 3, rates=(75, 60, 40, 55), levels=(99, 80, 70, 0)),
            op(60, 1, rates=(75, 60, 40, 55), levels=(99, 80, 70, 0)),
        ]),
        voice("VELO KEYS", 7, 5, [
            op(99, 1, rates=(95, 40, 30, 60), levels=(99, 80, 0, 0), velocity_sens=3, rate_scaling=3),
            op(80, 1, rates=(95, 50, 30, 60), levels=(99, 70, 0, 0), velocity_sens=7, rate_scaling=4),
            op(99, 1, rates=(95, 40, 30, 60), levels=(99, 80, 0, 0), velocity_sens=3, rate_scaling=3),
            op(72, 3, rates=(95, 50, 30, 60), levels=(99, 70, 0, 0), velocity_sens=6),
            op(70, 1, rates=(95, 50, 30, 60), levels=(99, 70, 0, 0), velocity_sens=5),
            op(74, 2, rates=(95, 50, 30, 60), levels=(99, 70, 0, 0), velocity_sens=4, rate_scaling=7),
        ]),
        voice("PITCH EG", 13, 5, [
            op(99, 1, rates=(90, 40, 30, 60), levels=(99, 85, 75, 0)),
            op(78, 2, rates=(90, 40, 30, 60), levels=(99, 85, 75, 0)),
            op(99, 1, rates=(90, 40, 30, 60), levels=(99, 85, 75, 0)),
            op(70, 1), op(72, 3), op(68, 1),
        ], pitch_rates=[70, 60, 50, 50], pitch_levels=[60, 48, 50, 50]),
        voice("VIBRATO", 5, 3, [
            op(99, 1, rates=(80, 40, 30, 60), levels=(99, 90, 85, 0)),
            op(70, 1, rates=(80, 40, 30, 60), levels=(99, 90, 85, 0)),
            op(90, 1, rates=(80, 40, 30, 60), levels=(99, 90, 85, 0), detune=9),
            op(66, 2, rates=(80, 40, 30, 60), levels=(99, 90, 85, 0)),
            op(0, 1), op(0, 1),
        ], lfo_speed=30, lfo_delay=0, lfo_pmd=12, lfo_wave=4, lfo_sync=1, pitch_mod_sens=4),
        voice("TREMOLO", 32, 0, [
            op(99, 1, rates=(80, 40, 30, 60), levels=(99, 95, 90, 0), amp_mod_sens=2),
            op(90, 2, rates=(80, 40, 30, 60), levels=(99, 95, 90, 0)),
            op(0, 1), op(0, 1), op(0, 1), op(0, 1),
        ], lfo_speed=30, lfo_delay=0, lfo_amd=40, lfo_wave=0, lfo_sync=1, pitch_mod_sens=0),
    ]  # fmt: skip
    return voices + [_sync_off(v) for v in voices if v.name.strip() in ("VIBRATO", "TREMOLO")]


def _sync_off(voice: Voice) -> Voice:
    """The same voice with LFO key sync off (the LFO runs free from the engine's start)."""
    free = copy.deepcopy(voice)
    free.lfo_sync = 0
    free.name = f"{voice.name.strip()[:5]} FREE".ljust(10)
    return free


def random_voices(n: int, seed: int = 0) -> list[Voice]:
    """``n`` voices drawn by the dx7 synth's sampler (every algorithm), named RANDOM 00 ..."""
    import torch

    from synths.dx7.synth import DX7, sample_voice

    synth, gen = DX7(algorithm=None), torch.Generator().manual_seed(seed)
    voices = []
    for i in range(n):
        voice = sample_voice(gen, synth)
        voice.name = f"RANDOM {i:02d}".ljust(10)
        voices.append(voice)
    return voices


def space_voices(n: int, seed: int = 0) -> list[Voice]:
    """``n`` voices drawn over the whole DX7 parameter space, named SPACE 000 ...: what a solver
    searching every field visits, not what a musician would save.

    Every field is uniform over its legal range (numpy ``default_rng(seed)``): algorithm 1-32,
    feedback 0-7; per operator output level, EG rates and levels 0-99, ratio or (one in four)
    fixed frequency with coarse and fine over their whole ranges, detune 0-14, key scaling
    (break point, depths 0-99, all four curves), rate scaling and velocity sensitivity 0-7,
    amplitude-modulation sensitivity 0-3; the pitch EG's rates and levels 0-99; LFO speed,
    delay, PMD and AMD 0-99, pitch-modulation sensitivity 0-7, key sync on or off. Two limits,
    so that the comparison has something to compare: one carrier (drawn) sounds within the clip
    (output level 85-99, L1-L3 60-99, R1-R3 30-99), and the LFO wave is one of the five
    deterministic ones (sample-and-hold draws from each engine's own random sequence).
    """
    import numpy as np

    from synths.dx7.algorithms import NUM_ALGORITHMS, algorithm

    rng = np.random.default_rng(seed)

    def uniform(low: int, high: int) -> int:
        return int(rng.integers(low, high + 1))

    voices = []
    for i in range(n):
        v = Voice(algorithm=uniform(0, NUM_ALGORITHMS - 1), feedback=uniform(0, 7))
        v.name = f"SPACE {i:03d}".ljust(10)
        carriers = algorithm(v.algorithm + 1).carriers
        loud = carriers[uniform(0, len(carriers) - 1)]
        for k, o in enumerate(v.ops, start=1):
            o.output_level = uniform(85, 99) if k == loud else uniform(0, 99)
            o.rates = [uniform(30, 99) for _ in range(3)] + [uniform(0, 99)] if k == loud else [
                uniform(0, 99) for _ in range(4)]  # fmt: skip
            o.levels = [uniform(60, 99) for _ in range(3)] + [uniform(0, 99)] if k == loud else [
                uniform(0, 99) for _ in range(4)]  # fmt: skip
            o.mode = int(rng.random() < 0.25)
            o.coarse, o.fine, o.detune = uniform(0, 31), uniform(0, 99), uniform(0, 14)
            o.break_point, o.left_depth, o.right_depth = uniform(0, 99), uniform(0, 99), uniform(0, 99)
            o.left_curve, o.right_curve = uniform(0, 3), uniform(0, 3)
            o.rate_scaling, o.velocity_sens, o.amp_mod_sens = uniform(0, 7), uniform(0, 7), uniform(0, 3)
        v.pitch_rates = [uniform(0, 99) for _ in range(4)]
        v.pitch_levels = [uniform(0, 99) for _ in range(4)]
        v.lfo_speed, v.lfo_delay, v.lfo_pmd, v.lfo_amd = (uniform(0, 99) for _ in range(4))
        v.lfo_wave, v.lfo_sync, v.pitch_mod_sens = uniform(0, 4), uniform(0, 1), uniform(0, 7)
        voices.append(v)
    return voices


def solver_matches() -> list[Voice]:
    """The voices solver runs exported on recorded notes (names: F = fm_match, C = cma, then the
    instrument and the MIDI note), from the bundled bank."""
    from synths.dx7.sysex import read_voices

    return [v for v in read_voices(SOLVER_MATCHES) if v.name.strip() != "INIT VOICE"]  # the bank's padding
