"""Log-spectral distance."""

from __future__ import annotations

import numpy as np
import torch

from metrics.base import Evaluation, metric_registry
from metrics.spectral import stft_power

LSD_N_FFT = 2048
LSD_HOP = 512
LSD_FLOOR = 1e-10


def log_spectral_distance(
    pred: np.ndarray, target: np.ndarray, n_fft: int = LSD_N_FFT, hop: int = LSD_HOP
) -> float:
    """Log-spectral distance in dB between two mono signals of equal length.

    With Hann-windowed, centred STFT power spectra normalised by the window sum,
    ``P = |X|^2 / (sum w)^2`` (a full-scale sine peaks at P = 1/4)::

        LSD = 1/M sum_m sqrt( 1/K sum_k (10 log10((P_mk + e) / (Q_mk + e)))^2 )

    over M frames and K = n_fft/2 + 1 bins, with e = 1e-10 (a floor 94 dB below
    a full-scale sine, so silence matched by silence costs nothing). Unit: dB.
    """
    x = torch.as_tensor(np.stack([pred, target]), dtype=torch.float64)
    n_fft = min(n_fft, x.shape[-1])
    power = stft_power(x, n_fft, min(hop, n_fft)) / (n_fft / 2) ** 2
    db = 10.0 * torch.log10(power + LSD_FLOOR)
    per_frame = (db[0] - db[1]).square().mean(dim=0).sqrt()
    return float(per_frame.mean())


@metric_registry.register("lsd")
def lsd(ev: Evaluation) -> float:
    """Log-spectral distance in dB (n_fft 2048, hop 512); see :func:`log_spectral_distance`."""
    return log_spectral_distance(ev.pred, ev.target)
