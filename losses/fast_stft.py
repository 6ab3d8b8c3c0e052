"""Spectrograms and the mss distance with hand-written backward passes, for losses run thousands of times.

Same values as :func:`losses.spectral.stft_power` (periodic Hann window of
n_fft samples, centred frames with reflect padding, one-sided), but autograd's
generic backward of ``torch.stft`` (a full complex FFT per frame plus an
unfold adjoint) costs about four forward passes. Here the backward is the
adjoint written out: scale by 2 X, inverse real FFT, window, overlap-add
(:func:`soundmatch.framing.overlap_add`), and fold the reflected padding back,
about one forward pass.
:func:`magnitude_distance` goes further for the multi-scale spectral loss: the
loss and its gradient with respect to the spectrum are formed in one
elementwise pass, so autograd keeps no chain of intermediate tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from losses.spectral import hann
from soundmatch.framing import overlap_add


def _spectrum(audio: Tensor, n_fft: int, hop: int) -> Tensor:
    """Complex one-sided STFT ``[B, frames, bins]`` (frames first: the layout the FFT works in)."""
    window = hann(n_fft, str(audio.device), audio.dtype)
    pad = n_fft // 2
    padded = F.pad(audio.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    return torch.fft.rfft(padded.unfold(-1, n_fft, hop) * window, dim=-1)


def _adjoint_weights(n_fft: int, bins: int, device, dtype) -> Tensor:
    """Per-bin weights of the one-sided rfft's adjoint, times n (irfft divides by n): the
    interior bins are halved because irfft counts them twice and the adjoint once."""
    weights = torch.full((bins,), float(n_fft), device=device, dtype=dtype)
    weights[1 : (n_fft + 1) // 2] *= 0.5
    return weights


def _spectrum_adjoint(grad_spec: Tensor, n_fft: int, hop: int, length: int, weighted: bool = False) -> Tensor:
    """Gradient with respect to the audio ``[B, length]`` from dL/dX ``[B, frames, bins]``.

    dL/dX uses torch's convention for a real L: dL/dRe X + i dL/dIm X. ``weighted``:
    the caller has already applied :func:`_adjoint_weights`.
    """
    pad = n_fft // 2
    if not weighted:
        grad_spec = grad_spec * _adjoint_weights(
            n_fft, grad_spec.shape[-1], grad_spec.device, grad_spec.real.dtype
        )
    grad_frames = torch.fft.irfft(grad_spec, n=n_fft, dim=-1)
    grad_frames = grad_frames * hann(n_fft, str(grad_spec.device), grad_frames.dtype)
    grad_padded = overlap_add(grad_frames, hop)  # the frames may stop short of the padding's end
    padded_len = length + 2 * pad
    grad_padded = F.pad(grad_padded, (0, padded_len - grad_padded.shape[-1]))
    grad = grad_padded[:, pad : pad + length].clone()
    # reflect padding: padded[i] = x[pad - i] on the left, x[length - 2 - j] on the right
    grad[:, 1 : pad + 1] += grad_padded[:, :pad].flip(-1)
    grad[:, length - pad - 1 : length - 1] += grad_padded[:, pad + length :].flip(-1)
    return grad


class _StftPower(torch.autograd.Function):
    @staticmethod
    def forward(ctx, audio: Tensor, n_fft: int, hop: int) -> Tensor:
        spec = _spectrum(audio, n_fft, hop)
        ctx.save_for_backward(spec)
        ctx.geometry = (n_fft, hop, audio.shape[-1])
        return (spec.real.square() + spec.imag.square()).transpose(-1, -2)

    @staticmethod
    def backward(ctx, grad_power: Tensor):
        (spec,) = ctx.saved_tensors
        # d|X|^2 / dX = 2 X
        return _spectrum_adjoint(2.0 * grad_power.transpose(-1, -2) * spec, *ctx.geometry), None, None


class _MagnitudeDistance(torch.autograd.Function):
    """``w_lin mean|S - S_t| + w_log mean|log S - log S_t|`` per item, S = sqrt(max(|X|^2, eps)).

    Forward and the gradient are computed together, elementwise in one pass, and
    only the complex factor dL/dX is kept for the backward.
    """

    @staticmethod
    def forward(ctx, audio, mag_t, log_t, n_fft, hop, w_lin, w_log, eps):
        spec = _spectrum(audio, n_fft, hop)
        power = spec.real.square() + spec.imag.square()
        mag = power.clamp(min=eps).sqrt()
        count = mag.shape[-1] * mag.shape[-2]
        d_lin = mag - mag_t
        d_log = mag.log().sub_(log_t)
        loss = (w_lin * d_lin.abs().sum(dim=(-2, -1)) + w_log * d_log.abs().sum(dim=(-2, -1))) / count
        if ctx.needs_input_grad[0]:
            # dL/dS = (w_lin sgn(dS) + w_log sgn(dlog S) / S) / count; dS/dX = X / S where
            # |X|^2 > eps (the clamp holds S still below); the adjoint's per-bin weights
            # are folded in here so the backward is one multiply and an inverse FFT
            inv = mag.reciprocal_()
            sign_lin = d_lin.sign_() if w_lin == 1.0 else d_lin.sign_().mul_(w_lin)
            factor = torch.addcmul(sign_lin, d_log.sign_(), inv, value=w_log)
            weights = _adjoint_weights(n_fft, factor.shape[-1], factor.device, factor.dtype) / count
            factor.mul_(inv.mul_(weights))
            factor.masked_fill_(power <= eps, 0.0)
            # a real factor on (re, im) pairs: multiplying the complex tensor would convert it first
            torch.view_as_real(spec).mul_(factor.unsqueeze(-1))
            ctx.save_for_backward(spec)
            ctx.geometry = (n_fft, hop, audio.shape[-1])
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        (grad_spec,) = ctx.saved_tensors
        if not bool((grad_loss == 1).all()):
            grad_spec = grad_spec * grad_loss.reshape(-1, 1, 1)
        return (_spectrum_adjoint(grad_spec, *ctx.geometry, weighted=True),) + (None,) * 7


def magnitude_spectrum(audio: Tensor, n_fft: int, hop: int, eps: float) -> tuple[Tensor, Tensor]:
    """``S = sqrt(max(|X|^2, eps))`` and ``log S``, frames first ``[B, frames, bins]`` (no gradient)."""
    with torch.no_grad():
        spec = _spectrum(audio, n_fft, hop)
        mag = (spec.real.square() + spec.imag.square()).clamp(min=eps).sqrt()
    return mag, mag.log()


def magnitude_distance(
    audio: Tensor, target: tuple[Tensor, Tensor], n_fft: int, hop: int, w_lin: float, w_log: float, eps: float
) -> Tensor:
    """Per-item ``[B]`` linear + log magnitude distance to ``target = magnitude_spectrum(...)``.

    ``mean|S - S_t|`` and ``mean|log S - log S_t|`` over bins and frames, weighted;
    differentiable with respect to ``audio[B, T]``.
    """
    return _MagnitudeDistance.apply(audio, target[0], target[1], n_fft, hop, w_lin, w_log, eps)


def stft_power_fast(audio: Tensor, n_fft: int, hop: int) -> Tensor:
    """``|X|^2`` of ``audio[B, T]``, ``[B, n_fft // 2 + 1, frames]``; T must exceed n_fft // 2."""
    if audio.shape[-1] <= n_fft // 2:
        raise ValueError(f"signal of {audio.shape[-1]} samples is too short for an FFT of {n_fft}")
    return _StftPower.apply(audio, n_fft, hop)
