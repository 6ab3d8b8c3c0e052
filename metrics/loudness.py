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


@functools.lru_cache(maxsize=16)
def a_weights(sample_rate: int, n_fft: int) -> np.ndarray:
    """IEC 61672 A-weighting as a power gain per STFT bin ``[n_fft // 2 + 1]`` (0 at DC)."""
    import librosa

    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    with np.errstate(divide="ignore"):
        db = librosa.A_weighting(np.maximum(freqs, 1e-3))
    return 10.0 ** (db / 10.0)


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
