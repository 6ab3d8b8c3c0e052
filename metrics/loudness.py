"""Loudness-envelope error: the A-weighted level of match and target, frame by frame."""

from __future__ import annotations

import functools

import numpy as np
import torch

from losses.spectral import stft_power
from metrics.base import Evaluation, metric_registry

LOUDNESS_N_FFT = 1024
LOUDNESS_HOP = 256
LOUDNESS_FLOOR_DB = -80.0


A_WEIGHT_FLOOR_DB = -80.0  # as librosa.A_weighting's min_db: the curve's tail at DC is clipped here


def a_weighting_db(freqs_hz: np.ndarray) -> np.ndarray:
    """IEC 61672 A-weighting in dB at ``freqs_hz`` (any shape), floored at -80 dB::

        R_A(f) = f4^2 f^4 / ((f^2 + f1^2) sqrt((f^2 + f2^2)(f^2 + f3^2)) (f^2 + f4^2))
        A(f) = 20 log10 R_A(f) + 2.00

    with the standard's pole frequencies f1..f4 = 20.598997, 107.65265, 737.86223, 12194.217 Hz.

    The closed form librosa implements (the tests check it against ``librosa.A_weighting``); written
    out so that every command scoring loudness does not import librosa (about 0.9 s) for it."""
    f2 = np.square(np.asarray(freqs_hz, dtype=np.float64))
    c = np.square([12194.217, 20.598997, 107.65265, 737.86223])
    with np.errstate(divide="ignore"):
        db = 2.0 + 20.0 * (
            np.log10(c[0]) + 2.0 * np.log10(f2) - np.log10(f2 + c[0]) - np.log10(f2 + c[1])
            - 0.5 * np.log10(f2 + c[2]) - 0.5 * np.log10(f2 + c[3])
        )
    return np.maximum(db, A_WEIGHT_FLOOR_DB)


@functools.lru_cache(maxsize=16)
def a_weights(sample_rate: int, n_fft: int) -> np.ndarray:
    """IEC 61672 A-weighting as a power gain per STFT bin ``[n_fft // 2 + 1]`` (-80 dB at DC)."""
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    return 10.0 ** (a_weighting_db(np.maximum(freqs, 1e-3)) / 10.0)


def loudness_envelope(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """A-weighted level per frame in dB re full scale, floored at -80 dB.

    ``L_m = 10 log10( 2 sum_k a_k |X_mk|^2 / (N sum_n w_n^2) )`` with Hann w of
    N = 1024 samples, hop 256, centred, a_k the A-weighting power gain; by
    Parseval this is the frame's mean square, so a full-scale 1 kHz sine
    (A-weight 0 dB) reads 10 log10(1/2) = -3.01 dB.
    """
    x = torch.as_tensor(np.asarray(audio), dtype=torch.float64).unsqueeze(0)
    power = stft_power(x, LOUDNESS_N_FFT, LOUDNESS_HOP)[0].numpy()
    weighted = (a_weights(sample_rate, LOUDNESS_N_FFT)[:, None] * power).sum(axis=0)
    weighted = weighted * 2.0 / (LOUDNESS_N_FFT * 3.0 * LOUDNESS_N_FFT / 8.0)  # sum w^2 = 3N/8 for Hann
    return np.maximum(10.0 * np.log10(np.maximum(weighted, 1e-300)), LOUDNESS_FLOOR_DB)


@metric_registry.register("loudness_envelope_error")
def loudness_envelope_error(ev: Evaluation) -> float:
    """Mean absolute difference of A-weighted loudness envelopes in dB: ``1/M sum_m |L_pred,m - L_target,m|``.

    Envelopes as in :func:`loudness_envelope` (floor -80 dB, so silence against
    silence costs nothing); a pure gain g on the same sound costs |20 log10 g| dB.
    Unit: dB.
    """
    l_t = loudness_envelope(ev.target, ev.sample_rate)
    l_p = loudness_envelope(ev.pred, ev.sample_rate)
    n = min(len(l_t), len(l_p))
    return float(np.mean(np.abs(l_p[:n] - l_t[:n])))
