"""Periodic modulations of a held note: vibrato (pitch) and tremolo (level).

**Vibrato.** The harmonic with the most energy among the first ``TRACKED_HARMONICS`` (below
0.45 of the sample rate) is tracked frame by frame (``FRAME_SECONDS`` Hann
frames, zero-padded 4x, hop ``HOP_SECONDS``; peak refined by a parabola on
log magnitudes) within +-``SEARCH_CENTS`` of its place, over the note's body
(attack end to note-off) where it stands within ``TRACK_DB`` of its loudest.

**Tremolo.** The note's RMS level in dB (``LEVEL_WINDOW_SECONDS`` frames, hop
``HOP_SECONDS``) over the same body, where it stands within ``TRACK_DB`` of its loudest.

Either track, about its own median with a trend removed (a line for pitch; a
parabola for level, which a decay bends), is a modulation when one sinusoid of
rate ``RATE_HZ`` explains at least ``MIN_EXPLAINED`` of its variance with a
peak depth of at least ``MIN_DEPTH_CENTS`` (pitch) or ``MIN_DEPTH_DB`` (level).
That sinusoid is then fitted in sliding windows of 1.5 cycles: the depth
reported is their median over the body's second half, and the onset is where
they first reach half that depth (a delayed vibrato, as players and the DX7's
LFO delay make it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from analysis.envelope import level_envelope
from analysis.partials import refined_peak

TRACKED_HARMONICS = 8
FRAME_SECONDS = 0.064
HOP_SECONDS = 0.01
SEARCH_CENTS = 150.0
TRACK_DB = 30.0
RATE_HZ = (3.0, 12.0)  # vibrato rates looked for
MIN_DEPTH_CENTS = 4.0
MIN_DEPTH_DB = 0.5  # tremolo: a swing of 1 dB, about the level difference listeners notice
LEVEL_WINDOW_SECONDS = 0.04  # tremolo frames: short against a 12 Hz cycle (it keeps 97% of its depth)
MIN_EXPLAINED = 0.5
MIN_CYCLES = 2.0  # the body must hold this many cycles of the slowest rate


@dataclass(frozen=True)
class Modulation:
    """A periodic modulation of a note's track: ``rate_hz``, peak ``depth`` (half the swing, in the
    track's unit), ``onset`` in s from the clip's start (where it reaches half depth), the share of
    the track's variance it explains (0..1), and its ``phase`` (radians: the track goes as
    ``sin(2 pi rate t + phase)``, t from the clip's start)."""

    rate_hz: float
    depth: float
    onset: float
    explained: float
    phase: float = 0.0
    KIND: ClassVar[str] = "modulation"
    UNIT: ClassVar[str] = ""

    def as_log(self) -> dict[str, float]:
        return {
            f"{self.KIND}_hz": round(self.rate_hz, 3),
            f"{self.KIND}_{self.UNIT}": round(self.depth, 2),
            f"{self.KIND}_onset_s": round(self.onset, 3),
        }


class Vibrato(Modulation):
    """A periodic pitch modulation; its depth in cents."""

    KIND, UNIT = "vibrato", "cents"

    @property
    def depth_cents(self) -> float:
        return self.depth


class Tremolo(Modulation):
    """A periodic level modulation; its depth in dB (of the RMS level)."""

    KIND, UNIT = "tremolo", "db"

    @property
    def depth_db(self) -> float:
        return self.depth


def strongest_harmonic(f0_hz: float, harmonics: np.ndarray, sample_rate: int, up_to: int) -> int | None:
    """The number of the strongest of harmonics 1..``up_to`` (amplitudes ``harmonics [H]``) that lies
    below 0.45 of the sample rate: the one whose frequency track is read most cleanly."""
    usable = [h for h in range(1, min(up_to, len(harmonics)) + 1) if h * f0_hz < 0.45 * sample_rate]
    return max(usable, key=lambda h: harmonics[h - 1]) if usable else None


def harmonic_track(
    audio: np.ndarray, sample_rate: int, hz: float, start: float, stop: float
) -> tuple[np.ndarray, np.ndarray]:
    """Frame times (s) and the frequency (Hz) of the spectral peak near ``hz`` per frame, over
    ``start..stop`` s, keeping frames where that peak is within ``TRACK_DB`` of its loudest."""
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    n = int(2 ** math.ceil(math.log2(FRAME_SECONDS * sample_rate)))
    n_fft = 4 * n
    hop = max(1, int(round(HOP_SECONDS * sample_rate)))
    first = max(0, int(start * sample_rate) - n // 2)
    last = min(len(x) - n, int(stop * sample_rate) - n // 2)
    if last <= first:
        return np.zeros(0), np.zeros(0)
    starts = np.arange(first, last + 1, hop)
    frames = x[starts[:, None] + np.arange(n)[None, :]] * np.hanning(n)[None, :]
    mag = np.abs(np.fft.rfft(frames, n=n_fft, axis=1))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    width = hz * (2.0 ** (SEARCH_CENTS / 1200.0) - 1.0)
    lo = max(1, int(math.floor((hz - width) * n_fft / sample_rate)))
    hi = min(len(freqs) - 2, int(math.ceil((hz + width) * n_fft / sample_rate)))
    if hi <= lo:
        return np.zeros(0), np.zeros(0)
    ks = lo + np.argmax(mag[:, lo : hi + 1], axis=1)
    peaks = np.array([refined_peak(freqs, m, int(k)) for m, k in zip(mag, ks, strict=True)])
    level = 20.0 * np.log10(np.maximum(peaks[:, 1], 1e-12))
    keep = level >= level.max() - TRACK_DB
    times = (starts + n // 2) / sample_rate
    return times[keep], peaks[keep, 0]


def _sinusoid(t: np.ndarray, y: np.ndarray, hz: float) -> tuple[float, float, float]:
    """Least-squares ``a sin + b cos`` at ``hz`` (with a constant) on ``y(t)``: amplitude, the share
    of ``y``'s variance it explains, and its phase (``y ~ amplitude sin(2 pi hz t + phase)``)."""
    w = 2.0 * math.pi * hz * t
    basis = np.stack([np.sin(w), np.cos(w), np.ones_like(t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    resid = y - basis @ coef
    var = float(np.var(y))
    explained = (1.0 - float(np.var(resid)) / var) if var > 0 else 0.0
    return float(math.hypot(coef[0], coef[1])), explained, float(math.atan2(coef[1], coef[0]))


def periodic_modulation(
    t: np.ndarray, track: np.ndarray, trend: int, start: float, min_depth: float
) -> tuple[float, float, float, float, float] | None:
    """``(rate_hz, depth, onset_s, explained, phase)`` of the sinusoid of ``RATE_HZ`` that best explains
    ``track`` (sampled at times ``t``, s) once a polynomial of degree ``trend`` is removed; None when
    the track is too short for ``MIN_CYCLES`` of the slowest rate, or the sinusoid is shallower than
    ``min_depth`` (the track's unit) or explains less than ``MIN_EXPLAINED``."""
    if len(t) < 8 or t[-1] - t[0] < MIN_CYCLES / RATE_HZ[0]:
        return None
    y = track - np.polyval(np.polyfit(t, track, trend), t)
    rates = np.arange(RATE_HZ[0], RATE_HZ[1] + 1e-9, 0.05)
    fits = [_sinusoid(t, y, r) for r in rates]
    best = int(np.argmax([f[1] for f in fits]))
    rate, (depth, explained, phase) = float(rates[best]), fits[best]
    if depth < min_depth or explained < MIN_EXPLAINED:
        return None
    # onset: the sliding fit's depth first reaching half the depth of the body's second half
    span = 1.5 / rate
    centres = t[(t >= t[0] + span / 2) & (t <= t[-1] - span / 2)]
    local = []
    for c in centres:
        inside = np.abs(t - c) <= span / 2
        local.append(_sinusoid(t[inside], y[inside], rate)[0] if inside.sum() >= 5 else 0.0)
    onset, full = start, depth
    if len(local):
        local_arr = np.array(local)
        later = local_arr[centres >= (t[0] + t[-1]) / 2]
        full = float(np.median(later)) if len(later) else depth
        reached = np.nonzero(local_arr >= 0.5 * full)[0]
        if len(reached) and reached[0] > 0:
            onset = float(centres[reached[0]])
    return rate, full, onset, explained, phase


def find_vibrato(
    audio: np.ndarray, sample_rate: int, f0_hz: float, harmonics: np.ndarray, start: float, stop: float
) -> Vibrato | None:
    """The vibrato of a note of fundamental ``f0_hz`` whose harmonic amplitudes are ``harmonics [H]``,
    read over its body ``start..stop`` s; None when there is none (see the module docstring)."""
    k = strongest_harmonic(f0_hz, harmonics, sample_rate, TRACKED_HARMONICS)
    if k is None or stop - start < MIN_CYCLES / RATE_HZ[0]:
        return None
    t, hz = harmonic_track(audio, sample_rate, k * f0_hz, start, stop)
    if len(t) == 0:
        return None
    found = periodic_modulation(t, 1200.0 * np.log2(hz / np.median(hz)), 1, start, MIN_DEPTH_CENTS)
    return None if found is None else Vibrato(*found)


def find_tremolo(audio: np.ndarray, sample_rate: int, start: float, stop: float) -> Tremolo | None:
    """The tremolo of a note whose body lasts ``start..stop`` s; None when there is none (see the
    module docstring)."""
    if stop - start < MIN_CYCLES / RATE_HZ[0]:
        return None
    env = level_envelope(audio, sample_rate, HOP_SECONDS, LEVEL_WINDOW_SECONDS)
    inside = (env.times >= start) & (env.times <= stop)
    t, db = env.times[inside], env.db[inside]
    if len(t) == 0:
        return None
    keep = db >= db.max() - TRACK_DB
    found = periodic_modulation(t[keep], db[keep], 2, start, MIN_DEPTH_DB)
    return None if found is None else Tremolo(*found)
