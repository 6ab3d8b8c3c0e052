"""The ``mss`` metric: the ``mss`` loss (:mod:`losses.mss`) at its defaults, scored on one match."""

from __future__ import annotations

import torch

from losses.mss import MultiScaleSpectral
from metrics.base import Evaluation, metric_registry


@metric_registry.register("mss")
def mss_metric(ev: Evaluation) -> float:
    """The ``mss`` loss with its default settings (6 FFT sizes 2048..64, linear + log); unitless."""
    pred = torch.as_tensor(ev.pred, dtype=torch.float32).unsqueeze(0)
    target = torch.as_tensor(ev.target, dtype=torch.float32).unsqueeze(0)
    with torch.no_grad():
        return float(MultiScaleSpectral(ev.sample_rate)(pred, target)[0])
