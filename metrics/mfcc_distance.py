"""MFCC distance between a match and its target, as an evaluation metric."""

from __future__ import annotations

import torch

from losses.mfcc import MFCCDistance
from metrics.base import Evaluation, metric_registry


@metric_registry.register("mfcc_dist")
def mfcc_dist(ev: Evaluation) -> float:
    """Mean absolute MFCC difference in dB: ``1/(K M) sum_{k,m} |C_pred,km - C_target,km|``.

    C are librosa.feature.mfcc's defaults: 20 coefficients (c0 included) of the
    orthonormal DCT of the 128-band Slaney mel power spectrum in dB (floor
    1e-10, clipped 80 dB below the clip's maximum), n_fft 2048, hop 512, over
    K coefficients and M frames; the ``mfcc`` loss with its default options.
    A pure gain g on the same sound moves only c0, by 20 log10(g) sqrt(128) dB.
    Unit: dB.
    """
    pred = torch.as_tensor(ev.pred, dtype=torch.float64).unsqueeze(0)
    target = torch.as_tensor(ev.target, dtype=torch.float64).unsqueeze(0)
    with torch.no_grad():
        return float(MFCCDistance(ev.sample_rate)(pred, target)[0])
