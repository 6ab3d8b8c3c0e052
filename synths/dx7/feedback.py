"""The DX7 feedback loop as a differentiable recurrence (a compiled loop with its own adjoint).

A feedback loop is a stack of K operators (K = 1 for the usual self-feedback,
2 or 3 in algorithms 6 and 4). With phases ``phase[k, n]`` in cycles (modulation
from outside the loop already added), gains ``g[k, n]`` and the feedback scale
``beta`` (cycles per unit of output, ``2 ** (FB - 8)``):

    s[0, n] = phase[0, n] + beta * (y[K-1, n-1] + y[K-1, n-2]) / 2
    s[k, n] = phase[k, n] + y[k-1, n]                      (k >= 1)
    y[k, n] = g[k, n] * sin(2 pi s[k, n])

This cannot be vectorised over time (each sample needs the previous two), so
the forward pass is a tight loop compiled with numba, parallel over the batch,
and the backward pass runs the adjoint recurrence backwards in time:

    lambda[K-1, n] = dL/dy[K-1, n] + beta/2 * (mu[0, n+1] + mu[0, n+2])
    mu[k, n] = lambda[k, n] * 2 pi g[k, n] cos(2 pi s[k, n])     (= dL/ds[k, n] = dL/dphase[k, n])
    lambda[k-1, n] = dL/dy[k-1, n] + mu[k, n]
    dL/dg[k, n] = lambda[k, n] sin(2 pi s[k, n]);  dL/dbeta = sum_n mu[0, n] (y[K-1,n-1] + y[K-1,n-2]) / 2

At high feedback and level the loop is chaotic (the DX7 makes noise there) and
the exact adjoint grows without bound; the adjoint carried through the
feedback path is therefore clipped to ``ADJOINT_CLIP`` so gradients stay finite.
Tensors on other devices are computed on the CPU and moved back.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch
from numba import njit, prange
from torch import Tensor

TWO_PI = 2.0 * math.pi
ADJOINT_CLIP = 1.0e4


# The recurrence is sequential in time, so the innermost loops run over independent
# voices: the CPU overlaps their sin() evaluations (SIMD, branch-free sin_cycles).
# The strided reads stay in cache (each line holds the next 16 samples of a voice).
# prange gives each thread one contiguous slice of voices.


# Taylor coefficients of sin(2 pi x) for |x| <= 1/4 (error < 1e-8 there)
_S1, _S3, _S5, _S7 = TWO_PI, -(TWO_PI**3) / 6, TWO_PI**5 / 120, -(TWO_PI**7) / 5040
_S9, _S11, _S13 = TWO_PI**9 / 362880, -(TWO_PI**11) / 39916800, TWO_PI**13 / 6227020800


@njit(inline="always", fastmath=True, cache=True)
def sin_cycles(s):  # pragma: no cover - compiled
    """``sin(2 pi s)`` with s in cycles: branch-free, so loops over voices vectorise."""
    x = s - np.floor(s + 0.5)  # [-1/2, 1/2]
    x = 0.5 - x if x > 0.25 else x  # sin(2 pi x) = sin(2 pi (1/2 - x))
    x = -0.5 - x if x < -0.25 else x
    z = x * x
    return x * (_S1 + z * (_S3 + z * (_S5 + z * (_S7 + z * (_S9 + z * (_S11 + z * _S13))))))


@njit(parallel=True, fastmath=True, cache=True)
def _loop_forward(phase, gain, beta, out, slices):  # pragma: no cover - compiled
    K, B, T = phase.shape
    for c in prange(slices.shape[0] - 1):
        lo, hi = slices[c], slices[c + 1]
        half_beta = 0.5 * beta[lo:hi]
        y1 = np.zeros_like(half_beta)
        y2 = np.zeros_like(half_beta)
        v = np.zeros_like(half_beta)
        for n in range(T):
            for i in range(hi - lo):
                v[i] = half_beta[i] * (y1[i] + y2[i])
            for k in range(K):
                p, g, o = phase[k, lo:hi, n], gain[k, lo:hi, n], out[k, lo:hi, n]
                for i in range(hi - lo):
                    v[i] = g[i] * sin_cycles(p[i] + v[i])
                    o[i] = v[i]
            for i in range(hi - lo):
                y2[i] = y1[i]
                y1[i] = v[i]


@njit(parallel=True, fastmath=True, cache=True)
def _loop_backward(
    phase, gain, beta, out, grad_out, grad_phase, grad_gain, grad_beta, slices
):  # pragma: no cover  # noqa: E501
    K, B, T = phase.shape
    for c in prange(slices.shape[0] - 1):
        lo, hi = slices[c], slices[c + 1]
        half_beta = 0.5 * beta[lo:hi]
        mu1 = np.zeros_like(half_beta)  # dL/ds[0] at n+1
        mu2 = np.zeros_like(half_beta)  # dL/ds[0] at n+2
        gb = np.zeros_like(half_beta)
        lam = np.zeros_like(half_beta)
        fb_in = np.zeros_like(half_beta)
        for n in range(T - 1, -1, -1):
            for i in range(hi - lo):
                f = out[K - 1, lo + i, n - 1] if n >= 1 else 0.0
                f += out[K - 1, lo + i, n - 2] if n >= 2 else 0.0
                fb_in[i] = f
                carried = min(max(half_beta[i] * (mu1[i] + mu2[i]), -ADJOINT_CLIP), ADJOINT_CLIP)
                lam[i] = grad_out[K - 1, lo + i, n] + carried
            for k in range(K - 1, -1, -1):
                p, g = phase[k, lo:hi, n], gain[k, lo:hi, n]
                gp, gg = grad_phase[k, lo:hi, n], grad_gain[k, lo:hi, n]
                for i in range(hi - lo):
                    if k == 0:
                        s = p[i] + half_beta[i] * fb_in[i]
                    else:
                        s = p[i] + out[k - 1, lo + i, n]
                    gg[i] = lam[i] * sin_cycles(s)
                    mu = lam[i] * TWO_PI * g[i] * sin_cycles(s + 0.25)
                    gp[i] = mu
                    lam[i] = grad_out[k - 1, lo + i, n] + mu if k > 0 else mu
            for i in range(hi - lo):  # lam now holds dL/ds[0] at n
                gb[i] += lam[i] * 0.5 * fb_in[i]
                mu2[i] = mu1[i]
                mu1[i] = lam[i]
        for i in range(hi - lo):
            grad_beta[lo + i] = gb[i]


def _slices(batch: int) -> np.ndarray:
    """Boundaries of one contiguous slice of voices per thread."""
    parts = max(1, min(batch, numba.get_num_threads()))
    return np.linspace(0, batch, parts + 1).round().astype(np.int64)


def _np(x: Tensor, dtype: torch.dtype) -> np.ndarray:
    return x.detach().to("cpu", dtype).contiguous().numpy()


class FeedbackLoop(torch.autograd.Function):
    """``y[K, B, T] = loop(phase[K, B, T] cycles, gain[K, B, T], beta[B] cycles)``."""

    @staticmethod
    def forward(ctx, phase: Tensor, gain: Tensor, beta: Tensor) -> Tensor:  # type: ignore[override]
        dt = torch.float64 if phase.dtype == torch.float64 else torch.float32
        p, g, bt = _np(phase, dt), _np(gain, dt), _np(beta, dt)
        out = np.empty_like(p)
        _loop_forward(p, g, bt, out, _slices(bt.shape[0]))
        y = torch.from_numpy(out)
        ctx.save_for_backward(phase, gain, beta, y)
        return y.to(phase.device)

    @staticmethod
    def backward(ctx, grad_y: Tensor):  # type: ignore[override]
        phase, gain, beta, y = ctx.saved_tensors
        dt = y.dtype
        p, g, bt, gy = _np(phase, dt), _np(gain, dt), _np(beta, dt), _np(grad_y, dt)
        gp, gg, gb = np.empty_like(p), np.empty_like(p), np.empty_like(bt)
        _loop_backward(p, g, bt, y.numpy(), gy, gp, gg, gb, _slices(bt.shape[0]))
        dev = phase.device
        return torch.from_numpy(gp).to(dev), torch.from_numpy(gg).to(dev), torch.from_numpy(gb).to(dev)


def feedback_loop(phase: Tensor, gain: Tensor, beta: Tensor) -> Tensor:
    """Outputs ``[K, B, T]`` of a K-operator feedback loop; see the module docstring."""
    return FeedbackLoop.apply(phase, gain, beta)


def feedback_scale(feedback: Tensor) -> Tensor:
    """DX7 feedback 0-7 (continuous) -> cycles per unit of output: ``2 ** (FB - 8)``, 0 at FB = 0.

    Between 0 and 1 the scale rises linearly to ``2 ** -7`` so it stays continuous.
    """
    fb = feedback.clamp(0.0, 7.0)
    return torch.where(fb >= 1.0, torch.exp2(fb - 8.0), fb * 2.0**-7)
