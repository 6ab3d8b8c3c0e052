"""A note's pitch glide at its start: a brass or reed scoop, a plucked string that starts sharp.

The frequency of the strongest of the first four harmonics is tracked as for
vibrato (:func:`analysis.vibrato.harmonic_track`) from the onset. The glide is
the median of the first ``EARLY_SECONDS`` of the track against the median of
the body from ``SETTLED_SECONDS`` on, in cents; it counts from
``MIN_GLIDE_CENTS`` and, in a note with vibrato, from 1.5 times its depth.
Its length is the time from the onset until the track first comes within a
quarter of the glide of the body's pitch (the track smoothed over three
frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.vibrato import harmonic_track, strongest_harmonic

EARLY_SECONDS = 0.06
SETTLED_SECONDS = 0.3
MIN_GLIDE_CENTS = 15.0
TRACKED_HARMONICS = 4


@dataclass(frozen=True)
class Glide:
    """The start of a note off its pitch: ``cents`` (negative: it starts flat) and the ``seconds``
    it takes from the onset to come (within a quarter of that) to the body's pitch."""

    cents: float
    seconds: float

    def as_log(self) -> dict[str, float]:
        return {"glide_cents": round(self.cents, 1), "glide_s": round(self.seconds, 3)}


def find_glide(
    audio: np.ndarray,
    sample_rate: int,
    f0_hz: float,
    harmonics: np.ndarray,
    onset: float,
    note_off: float,
    swing_cents: float = 0.0,
) -> Glide | None:
    """The glide of a note of fundamental ``f0_hz`` (harmonic amplitudes ``harmonics [H]``) that
    sounds from ``onset`` to ``note_off`` s; None when its start is on pitch or it is too short.
    ``swing_cents``: the depth of a vibrato the note has (its start may stand anywhere in that
    swing): a glide must be half as large again."""
    k = strongest_harmonic(f0_hz, harmonics, sample_rate, TRACKED_HARMONICS)
    if k is None or note_off - onset < SETTLED_SECONDS + 0.1:
        return None
    t, hz = harmonic_track(audio, sample_rate, k * f0_hz, onset, note_off)
    if len(t) < 10:
        return None
    since = t - onset
    body, early = since >= SETTLED_SECONDS, since <= EARLY_SECONDS
    if body.sum() < 5 or early.sum() < 2:
        return None
    cents = 1200.0 * np.log2(hz / np.median(hz[body]))
    glide = float(np.median(cents[early]))
    if abs(glide) < max(MIN_GLIDE_CENTS, 1.5 * swing_cents):  # the start may sit at the swing's peak
        return None
    smooth = np.convolve(cents, np.ones(3) / 3.0, mode="same")
    settled = np.nonzero(np.abs(smooth) <= 0.25 * abs(glide))[0]
    settled = settled[since[settled] > 0.0]
    seconds = float(since[settled[0]]) if len(settled) else SETTLED_SECONDS
    return Glide(glide, max(seconds, 0.01))
