"""Spectral-centroid error: how far the match's brightness is from the target's, over time."""

from __future__ import annotations

import numpy as np
import torch

from losses.spectral import stft_power
from metrics.base import Evaluation, metric_registry

CENTROID_N_FFT = 1024
CENTROID_HOP = 256
ACTIVE_DB = 60.0  # frames more than this below the target's loudest frame are not scored


def spectral_centroids(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Centroid (Hz) and power (sum over bins) per frame of ``audio[T]``.

    ``c_m = sum_k f_k |X_mk| / sum_k |X_mk|`` with f_k = k sr / n_fft (magnitude
    weighted, as librosa.feature.spectral_centroid), Hann n_fft 1024, hop 256,
    centred; 0 Hz for an all-zero frame.
    """
    x = torch.as_tensor(np.asarray(audio), dtype=torch.float64).unsqueeze(0)
    power = stft_power(x, CENTROID_N_FFT, CENTROID_HOP)[0].numpy()  # [bins, frames]
    mag = np.sqrt(power)
    freqs = np.arange(mag.shape[0]) * sample_rate / CENTROID_N_FFT
    total = mag.sum(axis=0)
    centroid = np.where(total > 0, (freqs[:, None] * mag).sum(axis=0) / np.maximum(total, 1e-300), 0.0)
    return centroid, power.sum(axis=0)


@metric_registry.register("spectral_centroid_error")
def spectral_centroid_error(ev: Evaluation) -> float | None:
    """Mean absolute spectral-centroid difference in Hz: ``1/|A| sum_{m in A} |c_pred,m - c_target,m|``.

    Centroids per frame as in :func:`spectral_centroids`; A is the set of frames
    whose power is within 60 dB of the target's loudest frame (the match is
    scored wherever the target sounds; a silent match frame has centroid 0).
    None for a silent target. Unit: Hz.
    """
    c_t, p_t = spectral_centroids(ev.target, ev.sample_rate)
    c_p, _ = spectral_centroids(ev.pred, ev.sample_rate)
    n = min(len(c_t), len(c_p))
    if p_t.max() <= 0:
        return None
    active = p_t[:n] >= p_t.max() * 10.0 ** (-ACTIVE_DB / 10.0)
    return float(np.mean(np.abs(c_p[:n][active] - c_t[:n][active])))
