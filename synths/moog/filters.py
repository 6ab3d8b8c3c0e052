"""Resonant biquad filters whose cutoff and resonance may change over time, evaluated by a scan.

The filters are the RBJ "audio EQ cookbook" biquads: the bilinear transform, with
the cutoff pre-warped, of the analog prototypes ``w0^2 / (s^2 + s w0/Q + w0^2)``
(low-pass) and ``s^2 / (s^2 + s w0/Q + w0^2)`` (high-pass). Q = 1/sqrt(2) is the
second-order Butterworth; larger Q gives a resonant peak of about Q (in gain) at
the cutoff.

Time variation: the coefficients are held for blocks of ``block`` samples (the
control rate, e.g. 500 Hz for 32 samples at 16 kHz) and the recursion is the
direct form I, whose state (the last two outputs) stays meaningful when the
coefficients jump. Evaluation without a loop over samples:

1. the feed-forward part ``v[n] = b0 x[n] + b1 x[n-1] + b2 x[n-2]`` is vectorised;
2. the all-pole part ``y[n] = v[n] - a1 y[n-1] - a2 y[n-2]`` is run inside every
   block at once from a zero state (a loop over the ``block`` positions, each step
   a tensor op over all blocks), together with the two zero-input responses of the
   block's recursion;
3. the true state entering each block follows the affine recursion
   ``s[k+1] = M[k] s[k] + e[k]`` over blocks, solved by a parallel prefix scan in
   ``log2(num_blocks)`` steps; the output is the zero-state response plus the
   zero-input responses weighted by that state.

The result equals the per-sample recursion up to float rounding, and every step
is differentiable with respect to the input and the coefficients.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

FILTER_KINDS = ("lowpass", "highpass")


def biquad_coefficients(
    kind: str, cutoff_hz: Tensor, q: Tensor, sample_rate: int
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Normalised (a0 = 1) coefficients ``b0, b1, b2, a1, a2``, each shaped like ``cutoff_hz``.

    Args:
        kind: "lowpass" or "highpass".
        cutoff_hz: cutoff frequencies in Hz, any shape, 0 < f < sample_rate / 2.
        q: quality factor (> 0), broadcastable to ``cutoff_hz``.
    """
    w0 = (2.0 * math.pi / sample_rate) * cutoff_hz
    cos_w0 = torch.cos(w0)
    alpha = torch.sin(w0) / (2.0 * q)
    a0 = 1.0 + alpha
    if kind == "lowpass":
        b1 = (1.0 - cos_w0) / a0
        b0 = 0.5 * b1
    elif kind == "highpass":
        b1 = -(1.0 + cos_w0) / a0
        b0 = -0.5 * b1
    else:
        raise ValueError(f"filter kind must be one of {FILTER_KINDS}, got {kind!r}")
    return b0, b1, b0, -2.0 * cos_w0 / a0, (1.0 - alpha) / a0


Pair = tuple[Tensor, Tensor]
Mat = tuple[Tensor, Tensor, Tensor, Tensor]


def _compose(m2: Mat, e2: Pair, m1: Mat, e1: Pair) -> tuple[Mat, Pair]:
    """The affine map ``s -> m2 (m1 s + e1) + e2`` as ``(m2 m1, m2 e1 + e2)``.

    2 x 2 matrices are tuples ``(m00, m01, m10, m11)`` of tensors and vectors pairs,
    written out elementwise because batched 2 x 2 matmuls are slow on CPU.
    """
    a, b, c, d = m2
    p, q, r, s = m1
    m = (a * p + b * r, a * q + b * s, c * p + d * r, c * q + d * s)
    e = (a * e1[0] + b * e1[1] + e2[0], c * e1[0] + d * e1[1] + e2[1])
    return m, e


def _prefix_states(m: Mat, e: Pair) -> Pair:
    """States ``s[k]`` of ``s[k+1] = m[k] s[k] + e[k]`` with ``s[0] = 0``; all ``[B, K]``.

    Hillis-Steele inclusive scan over the affine maps along K, then a shift by one block.
    """
    steps = 1
    num = e[0].shape[-1]
    while steps < num:
        mc, ec = _compose(
            tuple(t[:, steps:] for t in m),  # type: ignore[arg-type]
            (e[0][:, steps:], e[1][:, steps:]),
            tuple(t[:, :-steps] for t in m),  # type: ignore[arg-type]
            (e[0][:, :-steps], e[1][:, :-steps]),
        )
        m = tuple(torch.cat([t[:, :steps], tc], dim=1) for t, tc in zip(m, mc, strict=True))  # type: ignore[assignment]
        e = (torch.cat([e[0][:, :steps], ec[0]], dim=1), torch.cat([e[1][:, :steps], ec[1]], dim=1))
        steps *= 2
    return F.pad(e[0][:, :-1], (1, 0)), F.pad(e[1][:, :-1], (1, 0))


def _reduce_to(grad: Tensor, shape: torch.Size) -> Tensor:
    """Sum ``grad`` over the dimensions along which a tensor of ``shape`` was broadcast."""
    while grad.ndim > len(shape):
        grad = grad.sum(0)
    for dim, size in enumerate(shape):
        if size == 1 and grad.shape[dim] != 1:
            grad = grad.sum(dim, keepdim=True)
    return grad


class _AllPole(torch.autograd.Function):
    """``y[j] = d[j] - a1 y[j-1] - a2 y[j-2]`` for j < L from ``y[-1] = y[-2] = 0`` (rows of ``[L, ...]``).

    Returns ``y`` and copies of its last two rows (so that callers never index the
    big output, whose gradient would then be a full-size buffer per index). The
    backward pass is the adjoint recursion run in reverse,
    ``lam[j] = g[j] - a1 lam[j+1] - a2 lam[j+2]``, with ``dL/dd = lam``,
    ``dL/da1 = -sum_j lam[j] y[j-1]`` and ``dL/da2 = -sum_j lam[j] y[j-2]``: two
    tensor ops per step instead of autograd's graph of a dozen. Needs L >= 2.
    """

    @staticmethod
    def forward(ctx, drive: Tensor, a1: Tensor, a2: Tensor) -> tuple[Tensor, Tensor, Tensor]:  # type: ignore[override]
        y = torch.empty_like(drive)
        y[0] = drive[0]
        torch.addcmul(drive[1], a1, y[0], value=-1.0, out=y[1])
        for j in range(2, drive.shape[0]):
            torch.addcmul(drive[j], a1, y[j - 1], value=-1.0, out=y[j])
            y[j].addcmul_(a2, y[j - 2], value=-1.0)
        ctx.save_for_backward(y, a1, a2)
        return y, y[-1].clone(), y[-2].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad, grad_last, grad_prev) -> tuple[Tensor, Tensor, Tensor]:  # type: ignore[override]
        y, a1, a2 = ctx.saved_tensors
        grad = torch.zeros_like(y) if grad is None else grad
        lam = torch.empty_like(y)
        lam[-1] = grad[-1] if grad_last is None else grad[-1] + grad_last
        lam[-2] = grad[-2] if grad_prev is None else grad[-2] + grad_prev
        lam[-2].addcmul_(a1, lam[-1], value=-1.0)
        for j in range(y.shape[0] - 3, -1, -1):
            torch.addcmul(grad[j], a1, lam[j + 1], value=-1.0, out=lam[j])
            lam[j].addcmul_(a2, lam[j + 2], value=-1.0)
        grad_a1 = -(lam[1:] * y[:-1]).sum(0)
        grad_a2 = -(lam[2:] * y[:-2]).sum(0)
        return lam, _reduce_to(grad_a1, a1.shape), _reduce_to(grad_a2, a2.shape)


def time_varying_biquad(
    x: Tensor, b0: Tensor, b1: Tensor, b2: Tensor, a1: Tensor, a2: Tensor, block: int
) -> Tensor:
    """Filter ``x[B, T]`` with coefficients held per block.

    Args:
        x: input signals ``[B, T]``.
        b0, b1, b2, a1, a2: coefficients ``[B, K]`` (or ``[B, 1]`` for a fixed filter,
            which also skips work), ``K = ceil(T / block)``; block k covers samples
            ``k*block .. (k+1)*block - 1``.
        block: samples per block (the control period), >= 2.

    Returns:
        ``[B, T]``, the direct-form-I output from a zero initial state.
    """
    batch, length = x.shape
    num = -(-length // block)
    # Work in the layout [L, B, K]: row j holds sample j of every block, contiguous, so
    # each step of the recursions reads and writes whole rows.
    rows = F.pad(x, (0, num * block - length)).reshape(batch, num, block).permute(2, 0, 1).contiguous()
    # x[-2], x[-1] before each block (the previous block's last two samples), then the rows
    xs = torch.cat([F.pad(rows[-2:, :, :-1], (1, 0)), rows]).unbind(0)  # xs[j + 2] = x[j]
    drive = torch.stack(
        [torch.addcmul(torch.addcmul(b0 * xs[j + 2], b1, xs[j + 1]), b2, xs[j]) for j in range(block)]
    )  # the feed-forward part, row by row
    zs, zs_last, zs_prev = _AllPole.apply(drive, a1, a2)  # zero-state response [L, B, K]
    # Zero-input responses (shaped like the coefficients): row 0 to y[-1] = 1, row 1 to
    # y[-2] = 1; the initial state enters as the drive of the first two steps.
    zero = torch.zeros_like(a1)
    g_rows = [torch.stack([-a1, -a2]), torch.stack([-a2, zero])] + [torch.stack([zero, zero])] * (block - 2)
    g, g_last, g_prev = _AllPole.apply(torch.stack(g_rows), a1, a2)  # g: [L, 2, B, K or 1]
    # Block map s[k+1] = M s[k] + e with s = (y[n-1], y[n-2]) at the block's start.
    m = tuple(t.expand(batch, num) for t in (*g_last.unbind(0), *g_prev.unbind(0)))
    s0, s1 = _prefix_states(m, (zs_last, zs_prev))  # type: ignore[arg-type]  # each [B, K]
    g1, g2 = g.unbind(1)
    y = torch.addcmul(torch.addcmul(zs, g1, s0), g2, s1)  # [L, B, K]
    return y.permute(1, 2, 0).reshape(batch, num * block)[:, :length]


def block_mean(signal: Tensor, block: int) -> Tensor:
    """Mean of ``signal[B, T]`` over blocks of ``block`` samples (last one partial), ``[B, K]``."""
    batch, length = signal.shape
    num = -(-length // block)
    padded = F.pad(signal, (0, num * block - length))
    sums = padded.reshape(batch, num, block).sum(-1)
    counts = torch.full((num,), float(block), dtype=signal.dtype, device=signal.device)
    counts[-1] = length - (num - 1) * block
    return sums / counts
