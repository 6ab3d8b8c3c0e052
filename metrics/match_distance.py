"""``match_distance``: the default metric, in dB -- level, timbre as listeners hear it, and pitch.

Version 3. Version 1 (level + a log-frequency band LSD + a pitch term charging
every cent, 4,800 cents for a match without pitch) was fitted on the bundled
ladder alone and agreed least of the spectral distances with listeners
(mean Spearman 0.37 over 17 published timbre-dissimilarity studies). Version 2
brought the timbre terms below and a gentler pitch term (0.43). Version 3 kept
both and reworked the pitch term (0.50). Version 4 stops charging a match whose
pitch is right for being called unvoiced in more frames than its target (version
3 charged 130 dB per unit of that confidence gap whatever the match's pitch: a
DX7 bass 0.6 cents from its target cost 60 dB); agreement with listeners is
unchanged (0.502):

- **timbre** (:func:`timbre_components`): five terms on ERB-band spectra of the
  match brought to the target's energy -- per-frame band levels weighted by a
  loudness-like power of the band energy, the time-averaged spectrum, the
  temporal centroid, the effective duration and in-band noisiness. Which terms,
  and their weights, were chosen on human dissimilarity ratings with every
  weight checked by leave-one-set-out cross-validation
  (``python -m benchmark calibrate human=PATH fit=true``; README "The yardstick
  against listeners");
- **pitch** (:func:`pitch_parts`): nothing within the pitch-discrimination
  threshold; a mistuning costs the root of its size, a wrong note (from about
  three quarters of a semitone) as much as any; weighted by the confidence that
  both sounds are pitched (no cliff between "pitched" and "unpitched"); a match
  less surely pitched than its target pays for the gap at the rate of the pitch
  it shows (in full without one, nothing at the target's note); two
  sounds whose f0 readings differ by a whole harmonic ratio are read at their
  common fundamental when they name one note (the higher-read one sounds the
  lower reading's whole series, or the lower-read one barely sounds its own:
  a faint sub-octave is not a wrong note);
- **level**: the energy difference in dB, as in version 1.

The pitch curve was chosen on the metric ladder (bundled FluidR3 ladder and one
made from Debian's csound GM soundfont), which sets the order gain < detune <
softer note < another instrument < a wrong note, together with the listeners'
ratings, on which pitch was equalised and mistunings of 10-70 cents and
sub-octave readings are incidental (leave-one-set-out over a grid of curves).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis.audio_cache import AudioCache
from analysis.pitch import F0Estimate, estimate_f0
from losses.timbre_terms import (
    BAND_WEIGHT_POWER,
    CENTROID_OFFSET_S,
    DURATION_SHARE,
    FRAMES_RANGE_DB,
    LEVEL_CAP_DB,
    LEVEL_WEIGHT,
    NOISE_RANGE_DB,
    SPECTRUM_RANGE_DB,
    TIMBRE_WEIGHTS,
    erb_setup,
)
from metrics.base import Evaluation, metric_registry, versioned

# pitch


@dataclass(frozen=True)
class PitchCurve:
    """The pitch charge of an interval of ``c`` cents, in dB, with ``x = max(0, |c| - jnd)``::

        charge(c) = min(cap, mistune sqrt(x) + cap x^slope / (x^slope + half^slope))

    A mistuned note costs the root of its size (the shipped curve: 10 cents 5.3 dB, a quarter
    tone 14 dB); a wrong note, past the steep Hill step around ``half``, costs ``cap``. The shipped
    constants were chosen on the metric ladder (10 cents between a 6 dB gain change and a softer
    note, a wrong note beyond another instrument) together with listeners' ratings,
    leave-one-set-out (``calibrate human=PATH fit=true``, :mod:`benchmark.studies.pitch_fit`).
    """

    jnd: float = 3.0  # cents: pitch discrimination of complex tones at mid frequencies (about 0.2%)
    mistune: float = 2.0  # dB per root cent past it
    cap: float = 130.0  # dB: a wrong note, and a pitched target matched by an unpitched sound
    half: float = 80.0  # cents past the threshold where the wrong-note step is half way
    slope: float = 10.0  # its steepness

    def charge(self, cents: np.ndarray | float) -> np.ndarray:
        """``charge(c)`` elementwise, dB (NaN cents: 0)."""
        c = np.nan_to_num(np.abs(np.asarray(cents, dtype=np.float64)), nan=0.0)
        x = np.maximum(0.0, c - self.jnd)
        step = x**self.slope / (x**self.slope + self.half**self.slope)
        return np.minimum(self.cap, self.mistune * np.sqrt(x) + self.cap * step)

    def pitch_db(self, cents: np.ndarray | float, q_target: np.ndarray | float,
                 q_match: np.ndarray | float) -> np.ndarray:
        """The pitch term elementwise, dB::

            q_t q_p charge(c) + max(0, q_t - q_p) wrong(c),   wrong(c) = charge(c), or cap without c

        ``cents`` is NaN where the match has no pitch reading (then q_p is 0). A match less surely
        pitched than its target pays for the missing pitch at the rate of the pitch it does show:
        in full (the cap) when it has none or a wrong note, nothing when its reading is the
        target's note (a faithful note the tracker calls unvoiced in a few more frames is not
        less in tune; its noisier spectrum is the timbre terms' to charge)."""
        q_t, q_p = np.asarray(q_target, dtype=np.float64), np.asarray(q_match, dtype=np.float64)
        charge = self.charge(cents)
        wrong = np.where(np.isnan(np.asarray(cents, dtype=np.float64)), self.cap, charge)
        return q_t * q_p * charge + np.maximum(0.0, q_t - q_p) * wrong


PITCH_CURVE = PitchCurve()
PITCH_JND_CENTS = PITCH_CURVE.jnd
PITCH_CAP_DB = PITCH_CURVE.cap
PITCH_CAP_CENTS = 2400.0  # pitch errors beyond two octaves cost no more
VOICED_FLOOR, VOICED_FULL = 0.5, 0.9  # share of sounding frames voiced: confidence 0 at 0.5, 1 at 0.9
SOUNDING_DB = -30.0  # frames within this of the loudest count for the voiced share
SERIES_DB = -25.0  # a sound holds a lower f0's series when its off-series partials are within this
# a sound read at f whose partials off the series of r f lie this far under those on it sounds at r f
# (a weak sub-octave, a growl, a bassoon's faint fundamental: the tracker's reading, not the note)
SUBSERIES_DB = -15.0
HARMONIC_RATIOS = (2, 3, 4)  # f0 readings this many times apart may name one fundamental

_f0_cache = AudioCache()


def cached_f0(audio: np.ndarray, sample_rate: int, hint_midi: float | None) -> F0Estimate:
    """:func:`analysis.pitch.estimate_f0` of ``audio``, kept for the last 256 sounds (a target is
    compared with many matches, and several metrics read the same f0)."""
    return _f0_cache.get(audio, (sample_rate, hint_midi), lambda: estimate_f0(audio, sample_rate, hint_midi))


def level_difference_db(pred: np.ndarray, target: np.ndarray) -> float:
    """``10 log10(sum pred^2 / sum target^2)``, clipped to +-60 dB (silence reads -60)."""
    e_p = float(np.sum(np.square(pred, dtype=np.float64)))
    e_t = float(np.sum(np.square(target, dtype=np.float64)))
    if e_t <= 0.0:
        return 0.0 if e_p <= 0.0 else LEVEL_CAP_DB
    if e_p <= 0.0:
        return -LEVEL_CAP_DB
    return float(np.clip(10.0 * math.log10(e_p / e_t), -LEVEL_CAP_DB, LEVEL_CAP_DB))


# ---------------------------------------------------------------- timbre


def _power_frames(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Power spectra ``[bins, frames]`` of Hann frames (zero-padded to one frame at least)."""
    n_fft, hop, _, window, _ = erb_setup(sample_rate)
    x = np.asarray(audio, dtype=np.float64)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    spec = np.fft.rfft(frames * window, axis=1)
    return (spec.real**2 + spec.imag**2).T


def _band_flatness_db(power: np.ndarray, bank: np.ndarray, floor: float) -> np.ndarray:
    """Per band: spectral flatness (geometric over arithmetic mean of its bins' power, dB) averaged
    over frames with loudness-like weights (band energy ** 0.3)."""
    power = power + floor
    energy = bank @ power
    width = bank.sum(axis=1, keepdims=True)
    flatness = 10.0 * np.log10(np.exp((bank @ np.log(power)) / width) / (energy / width))
    weight = energy**0.3
    return (flatness * weight).sum(axis=1) / np.maximum(weight.sum(axis=1), 1e-30)


def _temporal_centroid(energy: np.ndarray, hop_s: float) -> float:
    return float((np.arange(len(energy)) * energy).sum() / max(energy.sum(), 1e-30) * hop_s)


def _effective_duration(energy: np.ndarray, hop_s: float) -> float:
    return float((np.sum(energy >= DURATION_SHARE * energy.max()) + 0.5) * hop_s)


def timbre_components(pred: np.ndarray, target: np.ndarray, sample_rate: int) -> dict[str, float]:
    """The five timbre terms of ``pred`` against ``target`` (mono, same rate), pred first brought
    to the target's energy (level is its own term):

    - ``frames_db``: per frame and ERB band, ``|10 log10(A / B)|`` of the band energies (floored
      60 dB under the target's loudest), averaged with weights ``max(A, B) ** 0.2``;
    - ``spectrum_db``: mean over bands of the same on the time-averaged spectra (40 dB floor);
    - ``temporal_centroid``: ``|log10(tc_p + 0.01) - log10(tc_t + 0.01)|``, tc the energy
      envelope's centre of gravity in seconds;
    - ``effective_duration``: ``|log10(ed_p / ed_t)|``, ed the time with energy at least 40% of
      the peak, in seconds;
    - ``noisiness_db``: mean over bands (at least 4 FFT bins wide) of the difference of in-band
      spectral flatness in dB, averaged over time.

    Both sounds silent: all 0. One silent: the spectral terms read the other against the floor and
    the envelope terms take the largest value a sound of the clip's length can have.
    """
    _, hop, bank, _, wide = erb_setup(sample_rate)
    hop_s = hop / sample_rate
    p_pred, p_target = _power_frames(pred, sample_rate), _power_frames(target, sample_rate)
    frames = min(p_pred.shape[1], p_target.shape[1])
    p_pred, p_target = p_pred[:, :frames], p_target[:, :frames]
    a, b = bank @ p_pred, bank @ p_target
    names = list(TIMBRE_WEIGHTS)
    if a.max() <= 0.0 and b.max() <= 0.0:
        return dict.fromkeys(names, 0.0)
    gain = b.sum() / a.sum() if a.sum() > 0.0 and b.sum() > 0.0 else 1.0
    a, p_pred = a * gain, p_pred * gain
    top = max(b.max(), a.max() if b.max() <= 0.0 else 0.0)
    floor = top * 10.0 ** (-FRAMES_RANGE_DB / 10.0)
    fa, fb = np.maximum(a, floor), np.maximum(b, floor)
    weight = np.maximum(fa, fb) ** BAND_WEIGHT_POWER
    frames_db = float((weight * np.abs(10.0 * np.log10(fa / fb))).sum() / weight.sum())
    sa, sb = a.mean(axis=1), b.mean(axis=1)
    floor = max(sb.max(), sa.max() if sb.max() <= 0.0 else 0.0) * 10.0 ** (-SPECTRUM_RANGE_DB / 10.0)
    spectrum_db = float(np.mean(np.abs(10.0 * np.log10(np.maximum(sa, floor) / np.maximum(sb, floor)))))
    ea, eb = a.sum(axis=0), b.sum(axis=0)
    if ea.max() > 0.0 and eb.max() > 0.0:
        tc = abs(math.log10(_temporal_centroid(ea, hop_s) + CENTROID_OFFSET_S)
                 - math.log10(_temporal_centroid(eb, hop_s) + CENTROID_OFFSET_S))
        ed = abs(math.log10(_effective_duration(ea, hop_s) / _effective_duration(eb, hop_s)))
    else:  # one of them silent: no envelope at all, as far as any envelope can be within the clip
        seconds = frames * hop_s
        tc = math.log10((seconds + CENTROID_OFFSET_S) / CENTROID_OFFSET_S)
        ed = math.log10(seconds / (0.5 * hop_s))
    # bins floored as the band levels are, so that empty bands read as flat in both (a recording's
    # noise floor or a file's quantisation noise under the floor buys or costs nothing)
    bins_floor = max(p_target.max(), p_pred.max() if p_target.max() <= 0.0 else 0.0)
    bins_floor *= 10.0 ** (-NOISE_RANGE_DB / 10.0)
    flat_pred = _band_flatness_db(p_pred, bank[wide], bins_floor)
    noisiness = float(np.mean(np.abs(flat_pred - _band_flatness_db(p_target, bank[wide], bins_floor))))
    return dict(zip(names, (frames_db, spectrum_db, tc, ed, noisiness), strict=True))


def timbre_distance_db(parts: dict[str, float], weights: dict[str, float] | None = None) -> float:
    """``sum_k w_k c_k`` of :func:`timbre_components` with :data:`TIMBRE_WEIGHTS` (or ``weights``)."""
    weights = TIMBRE_WEIGHTS if weights is None else weights
    return float(sum(weights[k] * parts[k] for k in weights))


# ---------------------------------------------------------------- pitch


def pitch_confidence(audio: np.ndarray, sample_rate: int, est: F0Estimate) -> float:
    """How surely ``audio`` has a pitch, 0..1: the share of its sounding frames (within 30 dB of the
    loudest) that the tracker calls voiced, mapped linearly from 0.5 (0) to 0.9 (1); 0 unpitched."""
    if est.hz is None or len(est.voiced) == 0:
        return 0.0
    hop = max(1, len(audio) // len(est.voiced))
    n = min(len(est.voiced), len(audio) // hop)
    if n == 0:
        return 0.0
    energy = np.square(np.asarray(audio[: n * hop], dtype=np.float64)).reshape(n, hop).sum(axis=1)
    if energy.max() <= 0.0:
        return 0.0
    sounding = energy >= energy.max() * 10.0 ** (SOUNDING_DB / 10.0)
    share = float(np.asarray(est.voiced[:n])[sounding].mean())
    return float(np.clip((share - VOICED_FLOOR) / (VOICED_FULL - VOICED_FLOOR), 0.0, 1.0))


def off_series_db(audio: np.ndarray, sample_rate: int, base_hz: float, ratio: int) -> float:
    """dB of ``audio``'s partials at the multiples of ``base_hz`` that are not multiples of ``ratio``
    over those that are (-inf when there are none)."""
    from analysis.harmonics import harmonic_energy, long_term_spectrum

    freqs, mag = long_term_spectrum(audio, sample_rate)
    off, on = harmonic_energy(freqs, mag, base_hz, sample_rate, period=ratio)
    return 10.0 * math.log10(off / max(on, 1e-30)) if off > 0.0 else -math.inf


def holds_series(audio: np.ndarray, sample_rate: int, base_hz: float, ratio: int,
                 within_db: float = SERIES_DB) -> bool:
    """Whether ``audio``'s partials include the multiples of ``base_hz`` that are not multiples of
    ``ratio`` (within ``within_db`` of those that are): it sounds ``base_hz``'s whole series, so a
    reading ``ratio`` times higher named one of its harmonics."""
    return off_series_db(audio, sample_rate, base_hz, ratio) > within_db


def pitch_interval_cents(pred: np.ndarray, target: np.ndarray, sample_rate: int,
                         f_pred: float, f_target: float) -> float:
    """``|1200 log2(f_pred / f_target)|`` capped at 2400, read at a common fundamental where the two
    readings are a whole ratio (2, 3, 4) apart, within 50 cents, and they name one note: the
    higher-read sound holds the lower reading's whole harmonic series (the tracker read one of its
    harmonics), or the lower-read sound barely sounds its own reading's series (its partials off
    the higher reading's series lie more than 15 dB under, a faint sub-octave). Then only the
    remainder counts."""
    interval = 1200.0 * math.log2(f_pred / f_target)
    low, high_sound, low_sound = (f_target, pred, target) if interval > 0 else (f_pred, target, pred)
    for ratio in HARMONIC_RATIOS:
        rest = abs(interval) - 1200.0 * math.log2(ratio)
        if abs(rest) <= 50.0 and (holds_series(high_sound, sample_rate, low, ratio)
                                  or not holds_series(low_sound, sample_rate, low, ratio, SUBSERIES_DB)):
            return abs(rest)
    return min(abs(interval), PITCH_CAP_CENTS)


def interval_charge_db(cents: float) -> float:
    """:data:`PITCH_CURVE`'s charge of an interval, dB: nothing within 3 cents; a mistuning grows
    with its root (10 cents 5.3 dB, a quarter tone 14 dB, 75 cents 51 dB); a semitone or more is a
    wrong note, 130 dB."""
    return float(PITCH_CURVE.charge(cents))


def pitch_parts(pred: np.ndarray, target: np.ndarray, sample_rate: int) -> dict[str, float | None]:
    """``pitch_cents`` (None when either sound has no pitch reading), the confidences ``pitched_target``
    and ``pitched_match`` (0..1, :func:`pitch_confidence`) and ``pitch_db``, the charge::

        pitch_db = q_t q_p charge(c) + max(0, q_t - q_p) wrong(c)

    (``wrong(c) = charge(c)``, or 130 dB when the match has no reading: :meth:`PitchCurve.pitch_db`).
    A target without pitch (q_t = 0) is charged nothing; a match less surely pitched than its
    target costs more and more as its pitch is further off or absent, up to the cap, with no step
    between "pitched" and "unpitched" (a marimba and a woodblock are as far apart as the woodblock
    is less pitched), while a match at the target's note that the tracker calls unvoiced in a few
    more frames costs nothing here.
    """
    target = np.asarray(target, dtype=np.float32)
    pred = np.asarray(pred, dtype=np.float32)
    est_t = cached_f0(target, sample_rate, None)
    q_t = pitch_confidence(target, sample_rate, est_t)
    if q_t == 0.0 or est_t.hz is None:
        return {"pitch_cents": None, "pitched_target": q_t, "pitched_match": None, "pitch_db": 0.0}
    est_p = cached_f0(pred, sample_rate, None) if np.any(pred) else F0Estimate(None, None, "none")
    q_p = pitch_confidence(pred, sample_rate, est_p)
    cents = None
    if est_p.hz is None:
        q_p = 0.0
    else:
        cents = pitch_interval_cents(pred, target, sample_rate, est_p.hz, est_t.hz)
    charge = float(PITCH_CURVE.pitch_db(math.nan if cents is None else cents, q_t, q_p))
    return {"pitch_cents": cents, "pitched_target": q_t, "pitched_match": q_p, "pitch_db": charge}


# ---------------------------------------------------------------- the metric


def match_components(ev: Evaluation) -> dict[str, float | None]:
    """Every term of :func:`match_distance`: ``level_db`` (signed), ``timbre_db`` and its five
    parts, ``pitch_cents``, ``pitched_target``, ``pitched_match`` and ``pitch_db``."""
    if np.array_equal(ev.pred, ev.target):
        zero = dict.fromkeys(["level_db", "timbre_db", *TIMBRE_WEIGHTS, "pitch_cents", "pitch_db"], 0.0)
        return {**zero, "pitched_target": None, "pitched_match": None}
    level = level_difference_db(ev.pred, ev.target)
    timbre = timbre_components(ev.pred, ev.target, ev.sample_rate)
    pitch = pitch_parts(ev.pred, ev.target, ev.sample_rate)
    return {"level_db": level, "timbre_db": timbre_distance_db(timbre), **timbre, **pitch}


@metric_registry.register("timbre_distance")
def timbre_distance(ev: Evaluation) -> float:
    """The timbre term of :func:`match_distance` alone, in dB: the part checked against listeners'
    dissimilarity ratings (level and pitch left out). 0 for identical sounds and for a gain change."""
    if np.array_equal(ev.pred, ev.target):
        return 0.0
    return timbre_distance_db(timbre_components(ev.pred, ev.target, ev.sample_rate))


@metric_registry.register("match_distance")
@versioned(4)
def match_distance(ev: Evaluation) -> float:
    """The default metric, in dB: ``|level| + timbre + pitch`` (version 4).

    - level: the match's level re the target, ``10 log10(E_pred / E_target)``,
      clipped to +-60 dB (a gain g costs |20 log10 g|);
    - timbre: :func:`timbre_components` weighted by :data:`TIMBRE_WEIGHTS`
      (the match brought to the target's level first);
    - pitch: :func:`pitch_parts` -- 0 within 3 cents, 10 cents 5.3 dB, a
      quarter tone 14 dB, a semitone or more 130 dB, scaled by the confidence that both
      sounds are pitched, a match without pitch costing 130 dB times the target's
      confidence; 0 when the target has no pitch.

    0 for identical sounds.
    """
    parts = match_components(ev)
    return LEVEL_WEIGHT * abs(parts["level_db"]) + parts["timbre_db"] + parts["pitch_db"]
