"""auraloss's multi-resolution STFT loss set up as soundmatch's ``mss``, the reference in tests."""

from __future__ import annotations

from collections.abc import Sequence

import pytest


def auraloss_mss(fft_sizes: Sequence[int], **extra):
    """``auraloss.freq.MultiResolutionSTFTLoss`` with hop n/4, a window of n samples, linear
    plus log magnitude and no spectral-convergence term; ``extra`` (e.g. ``scale="mel"``)
    goes to it as is. Skips the calling test when auraloss is not installed."""
    auraloss = pytest.importorskip("auraloss")
    return auraloss.freq.MultiResolutionSTFTLoss(
        fft_sizes=list(fft_sizes),
        hop_sizes=[n // 4 for n in fft_sizes],
        win_lengths=list(fft_sizes),
        w_sc=0.0,
        w_lin_mag=1.0,
        w_log_mag=1.0,
        **extra,
    )
