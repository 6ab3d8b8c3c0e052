"""``match_distance``: the default metric, in dB -- level, timbre on a log-frequency axis, and pitch.

It floors spectra relative to the *target* (80 dB under its loudest band), so a
match that reproduces only a recording's noise floor earns nothing, and it
charges a wrong note explicitly. Its form and constants were chosen on the
metric ladder (``python -m benchmark calibrate``); the README's "Metric ladder"
shows how it and every other metric order the known cases.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from analysis.pitch import F0Estimate, estimate_f0
from metrics.base import AudioCache, Evaluation, metric_registry
from metrics.lsd import LSD_HOP, LSD_N_FFT, LSD_RANGE_DB, power_spectra, relative_floor
from metrics.spectral import log_frequency_bank

BANDS_PER_OCTAVE = 24
LEVEL_CAP_DB = 60.0  # a match this much quieter than the target is as good as silent
PITCHED_CAP_CENTS = 2400.0  # pitch errors beyond two octaves cost no more
UNPITCHED_CENTS = 4800.0  # a match with no pitch (noise, silence) costs more than any wrong note
PITCH_DB_PER_DOUBLING = 14.0
PITCH_KNEE_CENTS = 20.0

_f0_cache = AudioCache()


def band_lsd(
    pred: np.ndarray, target: np.ndarray, sample_rate: int, n_fft: int = LSD_N_FFT, hop: int = LSD_HOP,
    range_db: float = LSD_RANGE_DB,
) -> float:
    """Energy-weighted mean absolute difference of log-frequency band levels, in dB.

    Power spectra ``P`` (pred) and ``Q`` (target) as in :func:`metrics.lsd.log_spectral_distance`
    (n_fft 2048, hop 512) are summed into 24 bands per octave
    (:func:`metrics.spectral.log_frequency_bank`); with the floor e ``range_db``
    under the target's loudest band::

        S = sum_bm w_bm |10 log10(max(P_bm, e) / max(Q_bm, e))| / sum_bm w_bm,   w = max(P, Q, e)

    Each band of each frame counts by the energy either sound puts there, so
    the partials and whatever the match adds weigh, and bands where both lie
    under the floor do not: a noise floor buys nothing between the partials of
    a sparse spectrum (as it does in ``lsd_abs``). The bands make a small
    detune cost little and a semitone cost fully. A gain g costs |20 log10 g|.
    """
    power = power_spectra(pred, target, n_fft, hop)
    bank = log_frequency_bank(sample_rate, min(n_fft, len(target)), BANDS_PER_OCTAVE)
    bands = torch.einsum("kf,sfm->skm", bank, power)
    floor = relative_floor(bands[1], range_db)
    clamped = bands.clamp(min=floor)
    diff = (10.0 * torch.log10(clamped[0] / clamped[1])).abs()
    weight = torch.maximum(clamped[0], clamped[1])
    return float((weight * diff).sum() / weight.sum())


def level_difference_db(pred: np.ndarray, target: np.ndarray) -> float:
    """``10 log10(sum pred^2 / sum target^2)``, clipped to +-60 dB (silence reads -60)."""
    e_p = float(np.sum(np.square(pred, dtype=np.float64)))
    e_t = float(np.sum(np.square(target, dtype=np.float64)))
    if e_t <= 0.0:
        return 0.0 if e_p <= 0.0 else LEVEL_CAP_DB
    if e_p <= 0.0:
        return -LEVEL_CAP_DB
    return float(np.clip(10.0 * math.log10(e_p / e_t), -LEVEL_CAP_DB, LEVEL_CAP_DB))


def cached_f0(audio: np.ndarray, sample_rate: int, hint_midi: float | None) -> F0Estimate:
    """:func:`analysis.pitch.estimate_f0` of ``audio``, kept for the last 256 sounds (a target is
    compared with many matches, and several metrics read the same f0)."""
    return _f0_cache.get(audio, (sample_rate, hint_midi), lambda: estimate_f0(audio, sample_rate, hint_midi))


def f0_interval_cents(pred: np.ndarray, target: np.ndarray, sample_rate: int) -> float | None:
    """``|1200 log2(f0_pred / f0_target)|`` capped at 2400 cents; 4800 for a match with no pitch;
    None when the target has none (pitch does not apply).

    Both f0s come from the same procedure, :func:`analysis.pitch.estimate_f0`
    without metadata (tracker, octave check, refinement on the harmonics), so
    that a tracker's bias on a kind of sound cancels between target and match.
    """
    f_t = cached_f0(np.asarray(target, dtype=np.float32), sample_rate, None)
    if f_t.hz is None:
        return None
    if np.array_equal(pred, target):
        return 0.0
    f_p = cached_f0(np.asarray(pred, dtype=np.float32), sample_rate, None)
    if f_p.hz is None:
        return UNPITCHED_CENTS
    return min(abs(1200.0 * math.log2(f_p.hz / f_t.hz)), PITCHED_CAP_CENTS)


def pitch_penalty_db(interval_cents: float | None) -> float:
    """``14 log2(1 + |c| / 20)`` dB: 10 cents 8 dB, a semitone 36 dB, an octave 83 dB, no pitch
    111 dB; 0 when pitch does not apply. Chosen on the ladder: 10 cents must cost more than a
    6 dB gain change and less than a 12 dB one, and a wrong note more than another instrument."""
    if interval_cents is None:
        return 0.0
    return PITCH_DB_PER_DOUBLING * math.log2(1.0 + interval_cents / PITCH_KNEE_CENTS)


def match_components(ev: Evaluation, range_db: float = LSD_RANGE_DB) -> dict[str, float | None]:
    """The three terms of :func:`match_distance`: ``level_db`` (signed), ``timbre_db``, ``pitch_cents``."""
    if np.array_equal(ev.pred, ev.target):
        return {"level_db": 0.0, "timbre_db": 0.0, "pitch_cents": 0.0}
    level = level_difference_db(ev.pred, ev.target)
    pred = np.asarray(ev.pred, dtype=np.float64)
    if np.any(pred):
        pred = pred * 10.0 ** (-level / 20.0)  # timbre is compared at the target's level
    timbre = band_lsd(pred, np.asarray(ev.target, dtype=np.float64), ev.sample_rate, range_db=range_db)
    pitch = f0_interval_cents(ev.pred, ev.target, ev.sample_rate)
    return {"level_db": level, "timbre_db": timbre, "pitch_cents": pitch}


@metric_registry.register("match_distance")
def match_distance(ev: Evaluation, range_db: float = LSD_RANGE_DB) -> float:
    """The default metric, in dB: ``|level| + timbre + 14 log2(1 + |c| / 20)``.

    - level: the match's overall level re the target, ``10 log10(E_pred / E_target)``,
      clipped to +-60 dB (:func:`level_difference_db`);
    - timbre: :func:`band_lsd` of the match brought to the target's level;
    - c: the f0 interval in cents (:func:`f0_interval_cents`; 4800 for an
      unpitched match), the term 0 when the target has no pitch.

    A gain g costs |20 log10 g| dB, a detune of 10 cents about 8 dB, a wrong
    note 36 dB (a semitone) to 83 dB (an octave, which a spectral distance
    alone calls close: it shares half its partials). 0 for identical sounds.
    """
    parts = match_components(ev, range_db)
    return abs(parts["level_db"]) + parts["timbre_db"] + pitch_penalty_db(parts["pitch_cents"])
