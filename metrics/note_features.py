"""Errors on what a musician names in a note: harmonic amplitudes, noisiness, attack and decay times.

Each reads the target with :mod:`analysis` (f0 octave-checked and refined,
harmonics per frame, envelope segments) and compares the match on the same
terms. They say *what* is wrong with a match where ``match_distance`` says
how much.
"""

from __future__ import annotations

import numpy as np

from analysis.envelope import segment
from analysis.harmonics import harmonic_amplitudes, harmonic_noise_ratio
from analysis.pitch import hz_to_midi
from metrics.base import Evaluation, metric_registry
from metrics.match_distance import cached_f0

HARMONICS = 20
HARMONIC_RANGE_DB = 60.0  # harmonic levels are floored this far under the target's strongest
SOUNDING_DB = -30.0  # frames within this of the target's loudest count in the noise ratio


def _target_f0(ev: Evaluation) -> float | None:
    hint = None if ev.note_hz is None else hz_to_midi(ev.note_hz)
    return cached_f0(np.asarray(ev.target, dtype=np.float32), ev.sample_rate, hint).hz


@metric_registry.register("harmonic_amplitude_error")
def harmonic_amplitude_error(ev: Evaluation) -> float | None:
    """Energy-weighted mean absolute difference of harmonic levels, in dB.

    Both sounds are read at the target's harmonics h f0, h = 1..20 below
    Nyquist (:func:`analysis.harmonics.harmonic_amplitudes`: the peak within
    +-30 cents, 16 ms hop), levels in dB floored 60 dB under the target's
    strongest harmonic::

        E = sum_mh w_mh |A_pred,mh - A_target,mh| / sum_mh w_mh,   w = max(a_pred, a_target)^2

    A match off pitch by more than about 30 cents finds nothing at the
    target's harmonics and scores near the floor. None for an unpitched target.
    """
    f0 = _target_f0(ev)
    if f0 is None:
        return None
    a_t, _ = harmonic_amplitudes(ev.target, ev.sample_rate, f0, HARMONICS)
    a_p, _ = harmonic_amplitudes(ev.pred, ev.sample_rate, f0, HARMONICS)
    n = min(len(a_t), len(a_p))
    a_t, a_p = a_t[:n], a_p[:n]
    floor = max(a_t.max(), 1e-12) * 10.0 ** (-HARMONIC_RANGE_DB / 20.0)
    db_t = 20.0 * np.log10(np.maximum(a_t, floor))
    db_p = 20.0 * np.log10(np.maximum(a_p, floor))
    weight = np.maximum(np.maximum(a_t, a_p), floor) ** 2
    return float((weight * np.abs(db_p - db_t)).sum() / weight.sum())


@metric_registry.register("noise_ratio_error")
def noise_ratio_error(ev: Evaluation) -> float | None:
    """``|NHR_pred - NHR_target|`` in dB: the noise-to-harmonic ratio, each at its own f0.

    NHR is the energy between the harmonics over that within +-f0/4 of them
    (:func:`analysis.harmonics.harmonic_noise_ratio`), in dB, averaged (as
    energy ratios) over the frames where the target is within 30 dB of its
    loudest. The match is read at its own f0 (the target's when it has none),
    so this says how noisy, not how well tuned. None for an unpitched target.
    """
    f0_t = _target_f0(ev)
    if f0_t is None:
        return None
    f0_p = cached_f0(np.asarray(ev.pred, dtype=np.float32), ev.sample_rate, None).hz or f0_t
    nhr_t = harmonic_noise_ratio(ev.target, ev.sample_rate, f0_t)
    nhr_p = harmonic_noise_ratio(ev.pred, ev.sample_rate, f0_p)
    # the frames where the target sounds (same hop for both: frame_size only changes the window)
    hop = max(1, int(round(0.016 * ev.sample_rate)))
    target = np.asarray(ev.target, dtype=np.float64)
    frames = len(nhr_t)
    energy = np.array([np.sum(target[i * hop : i * hop + hop] ** 2) for i in range(frames)])
    sounding = energy >= energy.max() * 10.0 ** (SOUNDING_DB / 10.0)
    n = min(len(nhr_t), len(nhr_p))
    keep = sounding[:n]

    def mean_db(x: np.ndarray) -> float:
        return float(10.0 * np.log10(np.mean(10.0 ** (x[:n][keep] / 10.0))))

    return abs(mean_db(nhr_p) - mean_db(nhr_t))


def _time_error(ev: Evaluation, which: str) -> float | None:
    if not np.any(ev.target) or not np.any(ev.pred):
        return None
    seg_t = segment(ev.target, ev.sample_rate)
    seg_p = segment(ev.pred, ev.sample_rate)
    return abs(getattr(seg_p, which) - getattr(seg_t, which))


@metric_registry.register("attack_time_error")
def attack_time_error(ev: Evaluation) -> float | None:
    """``|attack_pred - attack_target|`` in seconds, attack = onset (40 dB under the peak) to the top
    of the first rise (:func:`analysis.envelope.segment`). None when either sound is silent."""
    return _time_error(ev, "attack")


@metric_registry.register("decay_time_error")
def decay_time_error(ev: Evaluation) -> float | None:
    """``|decay_pred - decay_target|`` in seconds, decay = end of the attack to the start of the
    sustain line (:func:`analysis.envelope.segment`). None when either sound is silent."""
    return _time_error(ev, "decay")
