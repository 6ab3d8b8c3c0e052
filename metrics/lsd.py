"""Log-spectral distances: ``lsd`` (floored relative to the target) and ``lsd_abs`` (absolute floor)."""

from __future__ import annotations

import numpy as np
import torch

from losses.spectral import stft_power
from metrics.base import Evaluation, metric_registry

LSD_N_FFT = 2048
LSD_HOP = 512
LSD_FLOOR = 1e-10  # lsd_abs's absolute floor, 94 dB below a full-scale sine's peak bin
LSD_RANGE_DB = 80.0  # lsd's floor: this far below the target's loudest bin
FRAME_RANGE_DB = 60.0  # range_limited_lsd's floor: this far below each target frame's peak


def power_spectra(pred: np.ndarray, target: np.ndarray, n_fft: int, hop: int) -> torch.Tensor:
    """``[2, bins, frames]`` power spectra of pred and target, ``|X|^2 / (sum w / 2)^2`` (full-scale
    sine peaks at 1), Hann-windowed and centred; float64."""
    x = torch.as_tensor(np.stack([pred, target]), dtype=torch.float64)
    n_fft = min(n_fft, x.shape[-1])
    return stft_power(x, n_fft, min(hop, n_fft)) / (n_fft / 2) ** 2


def relative_floor(target_power: torch.Tensor, range_db: float = LSD_RANGE_DB) -> float:
    """The floor ``range_db`` below the target's loudest bin (any frame), never below ``LSD_FLOOR``."""
    return max(float(target_power.max()) * 10.0 ** (-range_db / 10.0), LSD_FLOOR)


def log_spectral_distance(
    pred: np.ndarray,
    target: np.ndarray,
    n_fft: int = LSD_N_FFT,
    hop: int = LSD_HOP,
    range_db: float | None = LSD_RANGE_DB,
) -> float:
    """Log-spectral distance in dB between two mono signals of equal length.

    With Hann-windowed, centred STFT power spectra ``P`` (pred) and ``Q``
    (target), normalised so that a full-scale sine peaks at 1::

        LSD = 1/M sum_m sqrt( 1/K sum_k (10 log10(max(P_mk, e) / max(Q_mk, e)))^2 )

    over M frames and K = n_fft/2 + 1 bins. The floor ``e`` is relative to the
    target: ``range_db`` (80) dB below its loudest bin over the clip, so what
    lies below that -- a recording's noise floor, or the match's -- counts as
    silence, and matching it earns nothing. ``range_db=None`` gives the old
    absolute floor e = 1e-10 (``lsd_abs``). Unit: dB.
    """
    power = power_spectra(pred, target, n_fft, hop)
    floor = LSD_FLOOR if range_db is None else relative_floor(power[1], range_db)
    db = 10.0 * torch.log10(power.clamp(min=floor))
    per_frame = (db[0] - db[1]).square().mean(dim=0).sqrt()
    return float(per_frame.mean())


def range_limited_lsd(
    pred: np.ndarray,
    target: np.ndarray,
    range_db: float = FRAME_RANGE_DB,
    n_fft: int = LSD_N_FFT,
    hop: int = LSD_HOP,
) -> float:
    """Log-spectral distance (dB) over the top ``range_db`` of each frame of ``target``.

    As :func:`log_spectral_distance` (same STFT, normalisation, mean over frames
    of the RMS over bins), but both spectra are clamped from below at the target
    frame's peak minus ``range_db`` (60), so what lies that far under the
    frame's loudest partial -- an engine's fixed-point noise floor, masked by
    the partials -- does not count. Unit: dB.
    """
    power = power_spectra(pred, target, n_fft, hop)
    db = 10.0 * torch.log10(power + LSD_FLOOR)
    floor = db[1].amax(dim=0, keepdim=True) - range_db
    db = torch.maximum(db, floor)
    return float((db[0] - db[1]).square().mean(dim=0).sqrt().mean())


@metric_registry.register("lsd")
def lsd(ev: Evaluation, range_db: float = LSD_RANGE_DB) -> float:
    """Log-spectral distance in dB (n_fft 2048, hop 512), floored ``range_db`` (80) dB below the
    target's loudest bin; see :func:`log_spectral_distance`."""
    return log_spectral_distance(ev.pred, ev.target, range_db=range_db)


@metric_registry.register("lsd_abs")
def lsd_abs(ev: Evaluation) -> float:
    """The former ``lsd``: floored at 1e-10 (about 94 dB below full scale) whatever the target's
    level, so a quiet target's noise floor weighs as much as its partials. Unit: dB. Kept to
    compare with earlier results."""
    return log_spectral_distance(ev.pred, ev.target, range_db=None)
