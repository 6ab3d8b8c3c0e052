"""Parameter-space error, for targets whose true parameters are known."""

from __future__ import annotations

import numpy as np

from metrics.base import Evaluation, metric_registry


@metric_registry.register("param_error")
def param_error(ev: Evaluation) -> float | None:
    """Mean absolute error in the unit cube: ``1/D sum_d |u_pred,d - u_true,d|`` (0..1).

    None for targets without ground truth (real recordings). Note that several
    parameter sets may sound alike, so a low loss can come with a high error.
    """
    if ev.target_params is None or ev.pred_params is None:
        return None
    return float(np.mean(np.abs(np.asarray(ev.pred_params) - np.asarray(ev.target_params))))
