"""Amplitude envelope of a note: level in dB per frame, segmented into attack / decay / sustain / release.

The level is the RMS of short frames (``window`` s, hop ``hop`` s, centred) in
dB re full scale (a full-scale sine reads -3 dB), floored ``FLOOR_DB`` below
the loudest frame. The segmentation reads, in seconds and dB:

- ``onset``: the first frame within ``ONSET_DB`` of the peak;
- ``attack_end``: the end of the initial rise: the top of the rise that first
  comes within ``ATTACK_DB`` of the largest level in the ``ATTACK_WINDOW`` s
  after the level first comes within 6 dB of the peak (so a late crescendo
  does not count as the attack);
- ``sustain_db`` and ``sustain_slope``: a straight line in dB fitted to the body
  of the note (attack end to note-off), its level at the body's start and its
  slope in dB/s (negative for decaying notes such as a piano or marimba);
- ``decay_end``: where the level first comes within 1 dB of that line after
  the attack (equal to ``attack_end`` when there is no initial decay);
- ``note_off``: where the release starts. The sounding part after the attack
  is fitted by two straight lines in dB (the body, then the release) with the
  break at every candidate frame; a release is found when the best break makes
  the second line at least ``RELEASE_STEEPER`` dB/s steeper than the first and
  the level falls at least ``RELEASE_DROP_DB`` below the body's line by the end
  of the sound. Otherwise the note ``sustains`` to the clip's end and
  ``note_off`` is the clip's length;
- ``release_slope``: dB/s of the release line (None when it sustains).

Uses numpy only; a centred RMS framing like ``librosa.feature.rms``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

HOP_SECONDS = 0.005
WINDOW_SECONDS = 0.02
FLOOR_DB = 80.0  # levels are floored this far below the peak
ONSET_DB = 40.0
ATTACK_DB = 0.5
ATTACK_WINDOW = 0.15  # s
SOUNDING_DB = 60.0  # the sound has ended once the level stays this far below the peak
RELEASE_STEEPER = 30.0  # dB/s
RELEASE_DROP_DB = 12.0
MIN_RELEASE_FRAMES = 3
MIN_BODY_SECONDS = 0.1  # a release is looked for only after this much of the body

FALLING_BODY_DB_S = 3.0  # a body falling faster than this (dB/s) is a decay, not a sustain

@dataclass
class LevelEnvelope:
    """Level per frame: ``times [F]`` (s, frame centres) and ``db [F]`` (dB re full scale)."""

    times: np.ndarray
    db: np.ndarray
    hop: float

    @property
    def peak_db(self) -> float:
        return float(self.db.max())


@dataclass
class EnvelopeSegments:
    """The envelope of one note, segmented (times in s from the clip's start, levels in dB re full scale).

    ``attack`` = attack_end - onset; ``decay`` = decay_end - attack_end;
    ``release`` is how long the release line takes to fall 60 dB (None when the
    note sustains to the clip's end); ``sustains`` says whether no release was found.
    """

    onset: float
    attack_end: float
    decay_end: float
    note_off: float
    end: float
    peak_db: float
    sustain_db: float
    sustain_slope: float
    release_slope: float | None
    sustains: bool
    duration: float
    envelope: LevelEnvelope

    @property
    def attack(self) -> float:
        return self.attack_end - self.onset

    @property
    def decay(self) -> float:
        return self.decay_end - self.attack_end

    @property
    def release(self) -> float | None:
        if self.release_slope is None or self.release_slope >= 0:
            return None
        return 60.0 / -self.release_slope

    def adsr(self, note_off: float) -> dict[str, float]:
        """A linear ADSR that draws this envelope with the note released at ``note_off`` s:
        ``attack``, ``decay`` and ``release`` in s, ``sustain`` the body's level re the peak (0..1).
        A body that keeps falling (more than ``FALLING_BODY_DB_S``) is drawn by the decay
        segment itself, down to the level the body reaches at ``note_off``. A note still
        sounding past ``note_off`` (or with no release found) is released as slowly as its body
        decays (60 dB at the body's slope, at least 30 dB/s)."""
        release = self.release if self.release is not None and self.note_off <= note_off + 0.02 else None
        if release is None:
            release = 60.0 / max(-self.sustain_slope, 30.0)
        decay, body_db = self.decay, self.sustain_db
        if self.sustain_slope < -FALLING_BODY_DB_S and note_off > self.decay_end:
            decay = note_off - self.attack_end
            body_db = self.sustain_db + self.sustain_slope * (note_off - self.decay_end)
        return {
            "attack": max(self.attack, 0.002),
            "decay": max(decay, 0.01),
            "sustain": 10.0 ** (-max(0.0, self.peak_db - body_db) / 20.0),
            "release": release,
        }

    def as_log(self) -> dict[str, float | bool | None]:
        """Scalars to log (seconds, dB, dB/s)."""
        return {
            "onset_s": round(self.onset, 4),
            "attack_s": round(self.attack, 4),
            "decay_s": round(self.decay, 4),
            "note_off_s": round(self.note_off, 4),
            "sustains": self.sustains,
            "peak_db": round(self.peak_db, 2),
            "sustain_db": round(self.sustain_db, 2),
            "sustain_slope_db_s": round(self.sustain_slope, 2),
            "release_slope_db_s": None if self.release_slope is None else round(self.release_slope, 2),
        }


def level_envelope(
    audio: np.ndarray, sample_rate: int, hop: float = HOP_SECONDS, window: float = WINDOW_SECONDS
) -> LevelEnvelope:
    """RMS level per centred frame in dB re full scale, floored ``FLOOR_DB`` below the loudest frame."""
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    h = max(1, int(round(hop * sample_rate)))
    w = max(h, int(round(window * sample_rate)))
    padded = np.pad(x, (w // 2, w - w // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, w)[::h]
    count = int(math.ceil(len(x) / h))
    ms = np.mean(frames[:count] ** 2, axis=1)
    db = 10.0 * np.log10(np.maximum(ms, 1e-20))
    db = np.maximum(db, db.max() - FLOOR_DB)
    return LevelEnvelope(np.arange(count) * h / sample_rate, db, h / sample_rate)


def _line(t: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares line ``y = a + b (t - t[0])``: (a, b, sum of squared residuals)."""
    if len(t) < 2:
        return float(y[0]), 0.0, 0.0
    tt = t - t[0]
    b, a = np.polyfit(tt, y, 1)
    res = y - (a + b * tt)
    return float(a), float(b), float(res @ res)


def _two_lines(t: np.ndarray, y: np.ndarray, first: int) -> tuple[int, float, float]:
    """The break index k >= ``first`` (line on [0, k], line on [k, end]) of least total squared error,
    and both slopes (``k = len(t)`` when no break fits).

    Prefix sums make every break O(1); both lines are free (not joined).
    """
    n = len(t)
    best = (n, 0.0, 0.0)
    best_err = math.inf
    c = np.cumsum
    s1, st, sy, stt, sty, syy = (c(np.ones(n)), c(t), c(y), c(t * t), c(t * y), c(y * y))

    def sse(i: int, j: int) -> tuple[float, float]:  # frames i..j inclusive
        def part(s: np.ndarray) -> float:
            return float(s[j] - (s[i - 1] if i > 0 else 0.0))

        m, a, b, aa, ab, bb = part(s1), part(st), part(sy), part(stt), part(sty), part(syy)
        var_t = aa - a * a / m
        cov = ab - a * b / m
        slope = cov / var_t if var_t > 1e-12 else 0.0
        return (bb - b * b / m) - slope * cov, slope

    for k in range(max(first, MIN_RELEASE_FRAMES), n - MIN_RELEASE_FRAMES):
        e1, b1 = sse(0, k)
        e2, b2 = sse(k, n - 1)
        if e1 + e2 < best_err:
            best_err, best = e1 + e2, (k, b1, b2)
    return best


def segment(audio: np.ndarray, sample_rate: int, hop: float = HOP_SECONDS) -> EnvelopeSegments:
    """Segment the level envelope of ``audio`` (mono ``[T]``) into attack, decay, sustain and release."""
    env = level_envelope(audio, sample_rate, hop)
    t, db = env.times, env.db
    duration = len(np.asarray(audio).reshape(-1)) / sample_rate
    peak = env.peak_db
    onset_i = int(np.argmax(db >= peak - ONSET_DB))
    near = int(np.argmax(db >= peak - 6.0))
    stop = min(len(db), near + max(1, int(round(ATTACK_WINDOW / env.hop))) + 1)
    local = float(db[near:stop].max())
    attack_i = near + int(np.argmax(db[near:stop] >= local - ATTACK_DB))
    while attack_i + 1 < stop and db[attack_i + 1] > db[attack_i]:  # on to the top of that rise
        attack_i += 1
    # the sound ends where the level last stands within SOUNDING_DB of the peak
    loud = np.nonzero(db >= peak - SOUNDING_DB)[0]
    end_i = int(loud[-1]) if len(loud) else len(db) - 1
    body_t, body_db = t[attack_i : end_i + 1], db[attack_i : end_i + 1]

    sustains = True
    off_i = len(db)
    release_slope: float | None = None
    if len(body_t) >= MIN_RELEASE_FRAMES + 2:
        k, b1, b2 = _two_lines(body_t, body_db, int(round(MIN_BODY_SECONDS / env.hop)))
        if k < len(body_t):
            a1, b1, _ = _line(body_t[: k + 1], body_db[: k + 1])
            expected_end = a1 + b1 * (body_t[-1] - body_t[0])
            dropped = expected_end - body_db[-1]
            # a sound cut by the clip's end has no room for a release to show
            if b2 < b1 - RELEASE_STEEPER and dropped >= RELEASE_DROP_DB:
                sustains, off_i, release_slope = False, attack_i + k, b2
    body_end = off_i if not sustains else end_i + 1
    a, slope, _ = (
        _line(t[attack_i:body_end], db[attack_i:body_end])
        if body_end - attack_i >= 2
        else (float(db[attack_i]), 0.0, 0.0)
    )
    # the decay ends where the level first meets the body's line (within 1 dB) after the attack
    line = a + slope * (t[attack_i:body_end] - t[attack_i])
    gap = db[attack_i:body_end] - line
    decay_i = attack_i + int(np.argmax(gap <= 1.0)) if len(gap) else attack_i
    if decay_i > attack_i:  # the body's line is refitted past the initial decay
        if body_end - decay_i >= 2:
            a, slope, _ = _line(t[decay_i:body_end], db[decay_i:body_end])
            a -= slope * (t[decay_i] - t[attack_i])
    note_off = duration if sustains else float(t[off_i])
    return EnvelopeSegments(
        onset=float(t[onset_i]),
        attack_end=float(t[attack_i]),
        decay_end=float(t[decay_i]),
        note_off=note_off,
        end=float(t[end_i]),
        peak_db=peak,
        sustain_db=float(a + slope * (t[decay_i] - t[attack_i])),
        sustain_slope=float(slope),
        release_slope=release_slope,
        sustains=sustains,
        duration=duration,
        envelope=env,
    )


def note_off_time(audio: np.ndarray, sample_rate: int) -> tuple[float, bool]:
    """Seconds from the clip's start to the note-off read from the envelope, and whether the note
    sustains to the clip's end (then the time is the clip's length)."""
    seg = segment(audio, sample_rate)
    return seg.note_off, seg.sustains
