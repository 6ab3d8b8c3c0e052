"""The per-sample part of the DX7 engine: six operators, one algorithm, feedback; forward and adjoint.

Everything that changes per sample runs in one compiled loop (numba); the slow
controls (envelopes, pitch, LFO) arrive per 64-sample block, as in Dexed. For
voice b, operator k and sample n = 64 m + j (block m, 0 <= j < 64):

    phase[k, n] = base[k, m] + step[k, m] * j                      (cycles)
    g[k, n]     = a^(1 - j/64) b^(j/64),  a, b = max(gain[k, m], F), max(gain[k, m+1], F)
                  (0 where both gains are 0; F = 2**-14, the gain of level 0)
    arg[k, n]   = phase[k, n] + sum_{i modulates k} y[i, n]
                  (+ beta/2 * (y[src, n-1] + y[src, n-2]) for the feedback target)
    y[k, n]     = g[k, n] * q(sin(2 pi arg[k, n]))    (q: optional rounding, see operator_network)
    audio[n]    = sum_k carrier[k] * y[k, n]        (optionally rounded down, see operator_network)

The gain moves geometrically within a block (linearly in level, i.e. in dB), as in
Dexed's engine, which interpolates an operator's attenuation in the log domain: a
jump from silence to full level (a square LFO at full amplitude-modulation depth,
an instant attack) is an 84 dB ramp over 64 samples, not a linear one.

Operators run from OP6 to OP1, so every modulator is ready before its target.
The backward pass runs the adjoint backwards in time: at each sample it
recomputes the operators (only the feedback source's output is stored), then
for OP1..OP6

    lambda[k] = carrier[k] dL/daudio[n] + sum_{k modulates i} mu[i]
                (+ beta/2 * (mu[dst, n+1] + mu[dst, n+2]) for the feedback source)
    mu[k]     = lambda[k] * 2 pi g[k] cos(2 pi arg[k])     (= dL/dphase[k, n])

and sums mu, mu * j and lambda * sin(...) into the block parameters' gradients.
At high feedback and level the loop is chaotic (the DX7 makes noise there) and
the exact adjoint grows without bound; the adjoint carried back through the
feedback path is clipped to ``ADJOINT_CLIP`` so gradients stay finite.

The innermost loops run over voices (a contiguous slice per thread; the compiled
kernels release the GIL): the recurrence is sequential in time but independent
across voices, so the CPU evaluates several voices' sines at once (SIMD;
``sin_cycles`` is branch-free).
Tensors on other devices are computed on the CPU and moved back.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from numba import njit
from torch import Tensor

from synths.dx7.algorithms import Algorithm

TWO_PI = 2.0 * math.pi
BLOCK = 64
GAIN_FLOOR = 2.0**-14  # an operator's gain at level 0: where a ramp from (or to) silence starts
ADJOINT_CLIP = 1.0e4

# Taylor coefficients of sin(2 pi x) for |x| <= 1/4 (error < 1e-9 there)
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


@njit(inline="always", fastmath=True, cache=True)
def _quantized(x, steps):  # pragma: no cover - compiled
    """``x`` rounded to multiples of ``1/steps`` (``steps = 0``: unchanged)."""
    return np.floor(x * steps + 0.5) / steps if steps > 0 else x


@njit(inline="always", fastmath=True, cache=True)
def _floored(x, steps):  # pragma: no cover - compiled
    """``x`` rounded down to a multiple of ``1/steps`` (``steps = 0``: unchanged)."""
    return np.floor(x * steps) / steps if steps > 0 else x


@njit(nogil=True, fastmath=True, cache=True)
def _forward(  # pragma: no cover - compiled
    base, step, start, rate, beta, mods, carrier, fb_src, fb_dst, steps, out_steps, out, fb_out, lo, hi,
):  # fmt: skip
    T = out.shape[1]
    nv = hi - lo
    half_beta = 0.5 * beta[lo:hi]
    zero = np.zeros_like(half_beta)
    y = np.zeros((6, nv), dtype=half_beta.dtype)
    ph = np.zeros_like(y)
    st = np.zeros_like(y)
    gc = np.zeros_like(y)  # the gain at this sample
    gr = np.zeros_like(y)  # its factor per sample
    arg = zero.copy()
    acc = zero.copy()
    y1 = zero.copy()
    y2 = zero.copy()
    for n in range(T):
        j = n % BLOCK
        if j == 0:
            m = n // BLOCK
            for k in range(6):
                for i in range(nv):
                    ph[k, i] = base[lo + i, k, m]
                    st[k, i] = step[lo + i, k, m]
                    gc[k, i] = start[lo + i, k, m]
                    gr[k, i] = rate[lo + i, k, m]
        for i in range(nv):
            acc[i] = 0.0
        for k in range(5, -1, -1):
            for i in range(nv):
                arg[i] = ph[k, i] + st[k, i] * j
            for s in range(6):
                if mods[k, s]:
                    for i in range(nv):
                        arg[i] += y[s, i]
            if k == fb_dst:
                for i in range(nv):
                    arg[i] += half_beta[i] * (y1[i] + y2[i])
            for i in range(nv):
                y[k, i] = gc[k, i] * _quantized(sin_cycles(arg[i]), steps)
            for i in range(nv):  # a loop of its own: one array written per loop keeps them SIMD
                gc[k, i] *= gr[k, i]
            if carrier[k] != 0.0:
                for i in range(nv):
                    acc[i] += carrier[k] * y[k, i]
        for i in range(nv):
            out[lo + i, n] = _floored(acc[i], out_steps)
            fb_out[lo + i, n] = y[fb_src, i]
            y2[i] = y1[i]
            y1[i] = y[fb_src, i]


@njit(nogil=True, fastmath=True, cache=True)
def _backward(  # pragma: no cover - compiled
    base, step, entry, back_rate, d_start, d_end, beta, mods, carrier, fb_src, fb_dst, steps, fb_out,
    grad_out, grad_base, grad_step, grad_gain, grad_beta, lo, hi,
):  # fmt: skip
    T = grad_out.shape[1]
    nv = hi - lo
    half_beta = 0.5 * beta[lo:hi]
    zero = np.zeros_like(half_beta)
    y = np.zeros((6, nv), dtype=half_beta.dtype)
    gv = np.zeros_like(y)
    sn = np.zeros_like(y)
    cs = np.zeros_like(y)
    mu = np.zeros_like(y)
    acc_base = np.zeros_like(y)
    acc_step = np.zeros_like(y)
    acc_g0 = np.zeros_like(y)
    acc_g1 = np.zeros_like(y)
    arg = zero.copy()
    lam = zero.copy()
    fb_in = zero.copy()
    mu1 = zero.copy()  # dL/darg of the feedback target at n+1
    mu2 = zero.copy()  # ... at n+2
    gb = zero.copy()
    ph = np.zeros_like(y)
    st = np.zeros_like(y)
    gc = np.zeros_like(y)  # the gain at sample n
    back = np.zeros_like(y)  # its factor per sample backwards
    for n in range(T - 1, -1, -1):
        j = n % BLOCK
        m = n // BLOCK
        w = j / BLOCK
        if n == T - 1 or j == BLOCK - 1:  # entering block m (backwards): its parameters, contiguous
            for k in range(6):
                for i in range(nv):
                    ph[k, i] = base[lo + i, k, m]
                    st[k, i] = step[lo + i, k, m]
                    gc[k, i] = entry[lo + i, k, m]
                    back[k, i] = back_rate[lo + i, k, m]
        for i in range(nv):
            f = fb_out[lo + i, n - 1] if n >= 1 else 0.0
            f += fb_out[lo + i, n - 2] if n >= 2 else 0.0
            fb_in[i] = f
        for k in range(5, -1, -1):  # recompute the operators at sample n
            for i in range(nv):
                arg[i] = ph[k, i] + st[k, i] * j
            for s in range(6):
                if mods[k, s]:
                    for i in range(nv):
                        arg[i] += y[s, i]
            if k == fb_dst:
                for i in range(nv):
                    arg[i] += half_beta[i] * fb_in[i]
            for i in range(nv):
                gv[k, i] = gc[k, i]
            for i in range(nv):
                gc[k, i] *= back[k, i]
            for i in range(nv):
                sn[k, i] = _quantized(sin_cycles(arg[i]), steps)
                cs[k, i] = sin_cycles(arg[i] + 0.25)
                y[k, i] = gv[k, i] * sn[k, i]
        for k in range(6):  # adjoint: targets (lower numbers) before their modulators
            for i in range(nv):
                lam[i] = carrier[k] * grad_out[lo + i, n]
            for t in range(6):
                if mods[t, k]:
                    for i in range(nv):
                        lam[i] += mu[t, i]
            if k == fb_src:
                for i in range(nv):
                    lam[i] += min(max(half_beta[i] * (mu1[i] + mu2[i]), -ADJOINT_CLIP), ADJOINT_CLIP)
            for i in range(nv):
                u = lam[i] * TWO_PI * gv[k, i] * cs[k, i]
                mu[k, i] = u
                acc_base[k, i] += u
                acc_step[k, i] += u * j
                d = lam[i] * sn[k, i] * gv[k, i]  # dL / d log g; times d log g / d gain at the end
                acc_g0[k, i] += d * (1.0 - w)
                acc_g1[k, i] += d * w
        for i in range(nv):
            gb[i] += mu[fb_dst, i] * 0.5 * fb_in[i]
            mu2[i] = mu1[i]
            mu1[i] = mu[fb_dst, i]
        if j == 0:  # the start of block m: hand its sums over
            for k in range(6):
                for i in range(nv):
                    grad_base[lo + i, k, m] = acc_base[k, i]
                    grad_step[lo + i, k, m] = acc_step[k, i]
                    grad_gain[lo + i, k, m] += acc_g0[k, i] * d_start[lo + i, k, m]
                    grad_gain[lo + i, k, m + 1] += acc_g1[k, i] * d_end[lo + i, k, m]
                    acc_base[k, i] = 0.0
                    acc_step[k, i] = 0.0
                    acc_g0[k, i] = 0.0
                    acc_g1[k, i] = 0.0
    for i in range(nv):
        grad_beta[lo + i] = gb[i]


_POOL: ThreadPoolExecutor | None = None


def _run_sliced(kernel, *args, batch: int) -> None:
    """Run ``kernel(*args, lo, hi)`` over slices of voices, one thread each (as many as torch uses).

    The kernels release the GIL, so the slices run in parallel.
    """
    global _POOL
    parts = max(1, min(batch, torch.get_num_threads()))
    bounds = np.linspace(0, batch, parts + 1).round().astype(np.int64)
    if parts == 1:
        kernel(*args, 0, batch)
        return
    if _POOL is None or _POOL._max_workers < parts:
        _POOL = ThreadPoolExecutor(max_workers=parts, thread_name_prefix="dx7")
    jobs = [_POOL.submit(kernel, *args, int(bounds[i]), int(bounds[i + 1])) for i in range(parts)]
    for job in jobs:
        job.result()


def _tables(algo: Algorithm, output_scale: float) -> tuple[np.ndarray, np.ndarray, int, int]:
    mods = np.zeros((6, 6), dtype=np.int64)
    for src, dst in algo.edges:
        mods[dst - 1, src - 1] = 1
    carrier = np.zeros(6)
    carrier[[op - 1 for op in algo.carriers]] = output_scale
    return mods, carrier, algo.feedback[0] - 1, algo.feedback[1] - 1


def _gain_ramps(gain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per block of ``gain [B, 6, N + 1]``: the start gain ``a`` and the factor per sample
    ``(b / a)^(1/64)``, each ``[B, 6, N]``. Ends are floored at ``GAIN_FLOOR``; a block silent at
    both ends has start 0 and factor 1."""
    a, b = gain[..., :-1], gain[..., 1:]
    silent = (a <= 0.0) & (b <= 0.0)
    af, bf = np.maximum(a, GAIN_FLOOR), np.maximum(b, GAIN_FLOOR)
    start = np.where(silent, 0.0, af).astype(gain.dtype)
    rate = np.where(silent, 1.0, (bf / af) ** (1.0 / BLOCK)).astype(gain.dtype)
    return start, rate


def _log_gain_slopes(gain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``d log g / d a`` and ``d log g / d b`` per unit of ``1 - w`` and ``w`` for each block
    (``1/a``, ``1/b``; 0 at a floored end), each ``[B, 6, N]``: only the backward pass needs them."""
    a, b = gain[..., :-1], gain[..., 1:]
    d_start = np.where(a > GAIN_FLOOR, 1.0 / np.maximum(a, GAIN_FLOOR), 0.0).astype(gain.dtype)
    d_end = np.where(b > GAIN_FLOOR, 1.0 / np.maximum(b, GAIN_FLOOR), 0.0).astype(gain.dtype)
    return d_start, d_end


def _np(x: Tensor, dtype: torch.dtype) -> np.ndarray:
    return x.detach().to("cpu", dtype).contiguous().numpy()


class OperatorNetwork(torch.autograd.Function):
    """``audio[B, T] = network(base[B,6,N], step[B,6,N], gain[B,6,N+1], beta[B]; algorithm)``."""

    @staticmethod
    def forward(ctx, base, step, gain, beta, algo, output_scale, num_samples, sine_steps, output_steps):  # type: ignore[override]  # noqa: E501
        dt = torch.float64 if base.dtype == torch.float64 else torch.float32
        b, s, g, bt = (_np(x, dt) for x in (base, step, gain, beta))
        mods, carrier, src, dst = _tables(algo, output_scale)
        carrier = carrier.astype(b.dtype)
        out = np.empty((b.shape[0], num_samples), dtype=b.dtype)
        fb_out = np.empty_like(out)
        steps, out_steps = float(sine_steps), float(output_steps)
        start, rate = _gain_ramps(g)
        args = (b, s, start, rate, bt, mods, carrier, src, dst, steps, out_steps, out, fb_out)
        _run_sliced(_forward, *args, batch=b.shape[0])
        ctx.save_for_backward(base, step, gain, beta, torch.from_numpy(fb_out))
        ctx.tables = (mods, carrier, src, dst, steps)
        return torch.from_numpy(out).to(base.device)

    @staticmethod
    def backward(ctx, grad_audio):  # type: ignore[override]
        base, step, gain, beta, fb_out = ctx.saved_tensors
        dt = fb_out.dtype
        b, s, g, bt = (_np(x, dt) for x in (base, step, gain, beta))
        grad_t = _np(grad_audio, dt)
        gb_, gs_, gbeta = np.empty_like(b), np.empty_like(s), np.empty_like(bt)
        gg_ = np.zeros_like(g)
        mods, carrier, src, dst, steps = ctx.tables
        start, rate = _gain_ramps(g)
        d_start, d_end = _log_gain_slopes(g)
        # the adjoint enters each block at its last sample (the last block at the clip's end)
        last = np.full(start.shape[-1], BLOCK - 1)
        last[(grad_t.shape[1] - 1) // BLOCK] = (grad_t.shape[1] - 1) % BLOCK
        entry = (start * rate ** last.astype(rate.dtype)).astype(rate.dtype)
        blocks = (entry, (1.0 / rate).astype(rate.dtype), d_start, d_end)
        outs = (gb_, gs_, gg_, gbeta)
        args = (b, s, *blocks, bt, mods, carrier, src, dst, steps, fb_out.numpy(), grad_t, *outs)
        _run_sliced(_backward, *args, batch=b.shape[0])
        dev = base.device
        grads = [torch.from_numpy(a).to(dev) for a in (gb_, gs_, gg_, gbeta)]
        return (*grads, None, None, None, None, None)


def operator_network(
    base: Tensor,
    step: Tensor,
    gain: Tensor,
    beta: Tensor,
    algo: Algorithm,
    output_scale: float,
    num_samples: int,
    sine_steps: int = 0,
    output_steps: int = 0,
) -> Tensor:
    """Audio ``[B, T]`` of one algorithm's operators; see the module docstring.

    Args:
        base: ``[B, 6, N]`` phase (cycles) of each operator at the start of each 64-sample block.
        step: ``[B, 6, N]`` phase increment (cycles per sample) within each block.
        gain: ``[B, 6, N + 1]`` linear gains at the block boundaries (interpolated geometrically).
        beta: ``[B]`` feedback scale (cycles per unit of output).
        algo: the routing; output_scale: factor on the sum of the carriers.
        num_samples: T <= 64 N.
        sine_steps: if > 0, each operator's sine is rounded to multiples of
            ``1/sine_steps`` before the gain (Dexed's sine resolution; the
            gradient is that of the exact sine, a straight-through estimate).
        output_steps: if > 0, the output is rounded down to multiples of
            ``1/output_steps`` (Dexed's output resolution; straight-through gradient).
    """
    args = (algo, output_scale, num_samples, sine_steps, output_steps)
    return OperatorNetwork.apply(base, step, gain, beta, *args)


def feedback_scale(feedback: Tensor) -> Tensor:
    """DX7 feedback 0-7 (continuous) -> cycles per unit of output: ``2 ** (FB - 8)``, 0 at FB = 0.

    Between 0 and 1 the scale rises linearly to ``2 ** -7`` so it stays continuous.
    """
    fb = feedback.clamp(0.0, 7.0)
    return torch.where(fb >= 1.0, torch.exp2(fb - 8.0), fb * 2.0**-7)
