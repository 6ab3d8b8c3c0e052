"""DX7 envelope generators, evaluated in closed form at block rate (vectorised, differentiable).

The DX7 (as msfa/Dexed model it) updates its envelopes once per block of 64
samples. This module computes the level at every block boundary directly from
the segment equations, with no loop over time, so it is batched and
differentiable with respect to rates and levels (continuous values between the
DX7's integer steps interpolate; the engine's integer steps are
straight-through floors, exact at integer inputs).

Amplitude EG (levels in octaves of gain, ``A / 256``; gain = ``2 ** (level - 14)``):
- target of segment i: ``A_i = max(16, 64 * floor(s(L_i) / 2) + outlevel - 4256)``
  with ``s`` the output-level scale (:func:`scale_level`);
- rate: ``q = min(63, floor(R * 41 / 64) + rate_scaling)``, speed
  ``(4 + q % 4) * 2 ** (floor(q / 4) - 16)`` octaves per 64 samples at 44.1 kHz
  (about 65 dB/s at R = 50; the same per second at any sample rate);
- falling segments are straight lines in the log domain; rising ones first jump
  to 1716/256 octaves and then move at ``floor(17 - level)`` times the speed
  (faster at low levels, the DX7's curved attack; modelled as the exponential
  approach ``d level/dt = (16.5 - level) * speed``, see ``RISE_CEILING``);
- the level starts at 0 (silent), runs segments 1-3, holds L3 until note-off,
  then segment 4 runs from wherever the level is then.

Pitch EG: levels in octaves (``pitch_table[L] / 32``, L = 50 is no shift, about
+-4 octaves), straight segments at ``rate_table[R] / 21.3`` octaves per second,
starting from L4, each lasting whole 64-sample updates as in Dexed. An
amplitude-EG segment whose start and target are equal
holds for a rate-dependent time measured on Dexed (:func:`static_hold`); in the
pitch EG it takes no time.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit
from torch import Tensor

BLOCK = 64  # samples per envelope update, as in Dexed at every sample rate
DX7_BLOCKS_PER_SECOND = 44100.0 / 64.0  # the rates are specified per 64 samples at 44.1 kHz
ATTACK_JUMP = 1716.0 / 256.0  # octaves: where a rising segment starts at the latest

# output-level scale s(x) for x < 20 (x + 28 above)
_LEVEL_LOW = (0, 5, 9, 13, 17, 20, 23, 25, 27, 29, 31, 33, 35, 37, 39, 41, 42, 43, 45, 46)

# ms that a segment between equal levels holds in Dexed at 44.1 kHz, rates 22..71 (measured)
STATIC_HOLD_44K = (
    3287, 3287, 2837, 2487, 2487, 1988, 1988, 1688, 1387, 1387, 1238, 1087, 988, 837, 698, 688, 612,
    612, 488, 408, 388, 338, 308, 287, 238, 197, 197, 162, 138, 138, 113, 113, 87, 78, 78, 65, 52, 49,
    39, 32, 30, 29, 20, 19, 16, 13, 9, 7, 7, 4,
)  # fmt: skip

# pitch EG: level 0-99 -> 1/32 octave, rate 0-99 -> speed (x / 21.3 octaves per second)
PITCH_LEVELS = (
    -128, -116, -104, -95, -85, -76, -68, -61, -56, -52, -49, -46, -43, -41, -39, -37, -35, -33, -32,
    -31, -30, -29, -28, -27, -26, -25, -24, -23, -22, -21, -20, -19, -18, -17, -16, -15, -14, -13, -12,
    -11, -10, -9, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 38, 40, 43, 46, 49,
    53, 58, 65, 73, 82, 92, 103, 115, 127,
)  # fmt: skip
PITCH_RATES = (
    1, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 16, 16,
    17, 18, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30, 31, 33, 34, 36, 37, 38, 39, 41, 42, 44, 46,
    47, 49, 51, 53, 54, 56, 58, 60, 62, 64, 66, 68, 70, 72, 74, 76, 79, 82, 85, 88, 91, 94, 98, 102,
    106, 110, 115, 120, 125, 130, 135, 141, 147, 153, 159, 165, 171, 178, 185, 193, 202, 211, 232, 243,
    254, 255,
)  # fmt: skip


def floor_ste(x: Tensor) -> Tensor:
    """floor(x) forward, identity gradient (the DX7's integer steps without killing gradients)."""
    return x + (torch.floor(x) - x).detach()


def interp(x: Tensor, table: Tensor) -> Tensor:
    """Piecewise-linear interpolation of ``table[i]`` at continuous indices ``x`` (clamped)."""
    n = table.numel()
    x = x.clamp(0.0, n - 1.0)
    i = torch.clamp(x.detach().floor().long(), 0, n - 2)
    frac = x - i.to(x.dtype)
    return table[i] + (table[i + 1] - table[i]) * frac


def scale_level(x: Tensor) -> Tensor:
    """The DX7 output-level scale s(x) for x in 0..99 (continuous): a table below 20, x + 28 above."""
    low = torch.tensor(_LEVEL_LOW + (48.0,), dtype=x.dtype, device=x.device)
    return torch.where(x < 20.0, interp(x, low), x + 28.0)


def amp_rate(rate: Tensor, rate_scaling: Tensor) -> Tensor:
    """EG rate 0..99 (+ keyboard rate scaling, in q steps) -> octaves per second."""
    q = (floor_ste(rate * 41.0 / 64.0) + rate_scaling).clamp(0.0, 63.0)
    hi = torch.floor(q.detach() / 4.0)
    mant = 4.0 + q - 4.0 * hi  # 4..8, continuous in q; the gradient flows through q
    return mant * torch.exp2(hi - 16.0) * DX7_BLOCKS_PER_SECOND


def amp_target(level: Tensor, outlevel: Tensor) -> Tensor:
    """EG level 0..99 and the operator's scaled output level (``32 * s(OL)`` + ...) -> octaves."""
    a = 64.0 * floor_ste(scale_level(level) / 2.0) + outlevel - 4256.0
    return torch.clamp(a, min=16.0) / 256.0


# Rising segments: d level / dt = floor(17 - level) * speed, piecewise linear per
# octave. Modelled as d level / dt = (RISE_CEILING - level) * speed, an exponential
# approach whose time through each octave [k, k+1) is ln((16.5-k)/(15.5-k)) / speed,
# within 3% of the exact 1 / ((16 - k) speed) for k <= 14.
RISE_CEILING = 16.5


class _Segment:
    """One EG segment from ``start`` toward ``target`` at ``speed`` (octaves/s), all ``[B, 1]``."""

    def __init__(self, start: Tensor, target: Tensor, speed: Tensor, curved_attack: bool):
        self.target, self.speed = target, speed
        self.rising = target > start
        self.curved = curved_attack
        if curved_attack:
            self.start = torch.where(self.rising, torch.clamp(start, min=ATTACK_JUMP), start)
            gap0 = (RISE_CEILING - self.start).clamp(min=1e-3)
            gap1 = (RISE_CEILING - target).clamp(min=1e-3)
            rise_time = torch.log(gap0 / gap1).clamp(min=0.0) / speed
        else:
            self.start = start
            rise_time = (target - start).clamp(min=0.0) / speed
        fall_time = (start - target).clamp(min=0.0) / speed
        self.duration = torch.where(self.rising, rise_time, fall_time)

    def level(self, tau: Tensor) -> Tensor:
        """Level ``tau`` seconds into the segment (``tau[B or 1, N] >= 0``), clamped at the target."""
        if self.curved:
            rise = RISE_CEILING - (RISE_CEILING - self.start) * torch.exp(-self.speed * tau)
        else:
            rise = self.start + self.speed * tau
        fall = self.start - self.speed * tau
        return torch.where(self.rising, torch.minimum(rise, self.target), torch.maximum(fall, self.target))


@njit(nogil=True, fastmath=True, cache=True)
def _eg_forward(t, start, target, speed, rising, begin, curved, out):  # pragma: no cover - compiled
    for r in range(start.shape[0]):
        for n in range(t.shape[0]):
            tt = t[n]
            s = 3 if tt >= begin[r, 3] else (2 if tt >= begin[r, 2] else (1 if tt >= begin[r, 1] else 0))
            tau = max(tt - begin[r, s], 0.0)
            if rising[r, s]:
                if curved:
                    x = RISE_CEILING - (RISE_CEILING - start[r, s]) * np.exp(-speed[r, s] * tau)
                else:
                    x = start[r, s] + speed[r, s] * tau
                out[r, n] = min(x, target[r, s])
            else:
                out[r, n] = max(start[r, s] - speed[r, s] * tau, target[r, s])


@njit(nogil=True, fastmath=True, cache=True)
def _eg_backward(t, start, target, speed, rising, begin, curved, grad, g_start, g_target, g_speed, g_begin):  # noqa: E501  # pragma: no cover
    for r in range(start.shape[0]):
        for n in range(t.shape[0]):
            g = grad[r, n]
            tt = t[n]
            s = 3 if tt >= begin[r, 3] else (2 if tt >= begin[r, 2] else (1 if tt >= begin[r, 1] else 0))
            tau = max(tt - begin[r, s], 0.0)
            if rising[r, s]:
                if curved:
                    e = np.exp(-speed[r, s] * tau)
                    gap = RISE_CEILING - start[r, s]
                    x = RISE_CEILING - gap * e
                    d_start, d_speed, d_tau = e, gap * tau * e, gap * speed[r, s] * e
                else:
                    x = start[r, s] + speed[r, s] * tau
                    d_start, d_speed, d_tau = 1.0, tau, speed[r, s]
                clamped = x >= target[r, s]
            else:
                x = start[r, s] - speed[r, s] * tau
                d_start, d_speed, d_tau = 1.0, -tau, -speed[r, s]
                clamped = x <= target[r, s]
            if clamped:
                g_target[r, s] += g
            else:
                g_start[r, s] += g * d_start
                g_speed[r, s] += g * d_speed
                g_begin[r, s] -= g * d_tau


class _Levels(torch.autograd.Function):
    """Levels ``[R, N]`` at times ``t[N]`` of piecewise EG segments given per row ``[R, 4]``.

    Segment s holds from ``begin[:, s]`` (``begin[:, 0] = 0``): it starts at
    ``start[:, s]`` and moves at ``speed[:, s]`` toward ``target[:, s]``, where
    it stays; straight lines, or for rising segments of the amplitude EG
    (``curved``) the exponential approach to ``RISE_CEILING``.
    """

    @staticmethod
    def forward(ctx, t, start, target, speed, rising, begin, curved):  # type: ignore[override]
        arrays = [x.detach().cpu().contiguous().numpy() for x in (t, start, target, speed, rising, begin)]
        out = np.empty((start.shape[0], t.shape[0]), dtype=arrays[1].dtype)
        _eg_forward(*arrays, bool(curved), out)
        ctx.save_for_backward(t, start, target, speed, rising, begin)
        ctx.curved = bool(curved)
        return torch.from_numpy(out).to(start.device)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        arrays = [x.detach().cpu().contiguous().numpy() for x in ctx.saved_tensors]
        g = grad.detach().to("cpu", torch.float64).contiguous().numpy()
        grads = [np.zeros(arrays[1].shape) for _ in range(4)]
        _eg_backward(*arrays, ctx.curved, g, *grads)
        dev, dt = ctx.saved_tensors[1].device, ctx.saved_tensors[1].dtype
        g_start, g_target, g_speed, g_begin = (torch.from_numpy(x).to(dev, dt) for x in grads)
        return None, g_start, g_target, g_speed, None, g_begin, None


def _run(
    t: Tensor,
    start: Tensor,
    targets: Tensor,
    speeds: Tensor,
    note_off: float,
    curved: bool,
    static: Tensor | None = None,
    block: float | None = None,
) -> Tensor:
    """Levels ``[B, N]`` at times ``t[N]`` of a 4-segment EG with note-off at ``note_off`` s.

    The segments' start levels, durations and begin times are worked out per
    row (cheap, by autograd); the levels on the time grid come from a compiled
    loop with its own backward (``_Levels``). ``static[B, 4]``: seconds that a
    segment whose start equals its target holds (None: no time). ``block``: seconds
    per update; if given, each segment lasts a whole number of updates, at least one
    (the update that reaches the target ends it), as Dexed's pitch EG does.
    """
    starts, rising, begins = [], [], []
    begin = torch.zeros_like(start)
    seg_start = start
    for i in range(3):
        seg = _Segment(seg_start, targets[:, i : i + 1], speeds[:, i : i + 1], curved)
        starts.append(seg.start)
        rising.append(seg.rising)
        begins.append(begin)
        duration = seg.duration
        if static is not None:
            duration = torch.where(seg_start == targets[:, i : i + 1], static[:, i : i + 1], duration)
        if block is not None:
            updates = duration / block
            # whole updates (a tolerance for float error in exact multiples); straight-through gradient
            whole = torch.clamp(torch.ceil(updates - 1e-4), min=1.0)
            duration = (updates + (whole - updates).detach()) * block
        begin = begin + duration
        seg_start = targets[:, i : i + 1]
    never = torch.full_like(start, float("inf"))
    off = torch.tensor([note_off], dtype=t.dtype, device=t.device)

    def levels(times: Tensor, release: _Segment | None) -> Tensor:
        last = (
            release if release is not None else _Segment(seg_start, targets[:, 3:4], speeds[:, 3:4], curved)
        )
        return _Levels.apply(
            times,
            torch.cat([*starts, last.start], 1),
            targets,
            speeds,
            torch.cat([*rising, last.rising], 1),
            torch.cat([*begins, never if release is None else torch.full_like(start, note_off)], 1),
            curved,
        )

    release = _Segment(levels(off, None), targets[:, 3:4], speeds[:, 3:4], curved)
    return levels(t, release)


def block_times(num_samples: int, sample_rate: int, dtype=torch.float32, device=None) -> Tensor:
    """Times (s) of the envelope updates: the ends of the 64-sample blocks, ``[ceil(T/64) + 1]``.

    Entry j is the level after j updates (entry 0: before the first one); the
    engine ramps each block's gain linearly from entry j to entry j + 1, as Dexed does.
    """
    blocks = -(-num_samples // BLOCK)
    return torch.arange(blocks + 1, dtype=dtype, device=device) * (BLOCK / sample_rate)


def static_hold(rate: Tensor, sample_rate: int) -> Tensor:
    """Seconds that an amplitude-EG segment between equal levels lasts in Dexed, for rates 0..99.

    Measured with dexed-py (``STATIC_HOLD_44K`` at 44.1 kHz, rates 22-71; shorter
    than a block above 71; an exponential extrapolation below 22). Dexed's hold
    grows as ``(44100 / sample_rate) ** 2.06`` (8x at 16 kHz; fitted at 16-48 kHz), kept since
    the engine imitates Dexed at the sample rate it renders.
    """
    table = torch.tensor(STATIC_HOLD_44K, dtype=rate.dtype, device=rate.device) / 1000.0
    inside = interp(rate - 22.0, table)
    below = table[0] * torch.exp(0.107 * (22.0 - rate))
    hold = torch.where(rate < 22.0, below, torch.where(rate > 71.0, torch.zeros_like(rate), inside))
    return hold * (44100.0 / sample_rate) ** 2.06


def amp_envelope(
    t: Tensor,
    rates: Tensor,
    levels: Tensor,
    outlevel: Tensor,
    rate_scaling: Tensor,
    note_off: float,
    sample_rate: int | None = None,
) -> Tensor:
    """Amplitude EG levels in octaves ``[B, N]`` at times ``t[N]``.

    Args:
        rates, levels: ``[B, 4]`` EG rates R1-R4 and levels L1-L4, 0..99.
        outlevel: ``[B]`` operator level in A units: ``32 * s(OL)`` plus keyboard
            level scaling (x32) and velocity offsets.
        rate_scaling: ``[B]`` keyboard rate scaling in q steps (0 at middle keys when off).
        note_off: seconds from note-on to note-off.
        sample_rate: if given, segments between equal levels hold as long as
            Dexed's do at that rate (:func:`static_hold`); None: they take no time.
    """
    targets = amp_target(levels, outlevel.unsqueeze(-1))
    speeds = amp_rate(rates, rate_scaling.unsqueeze(-1))
    start = torch.zeros_like(targets[:, :1])
    static = None
    if sample_rate is not None:
        static = static_hold(rates + rate_scaling.unsqueeze(-1), sample_rate)
    return _run(t, start, targets, speeds, note_off, curved=True, static=static)


def pitch_envelope(
    t: Tensor, rates: Tensor, levels: Tensor, note_off: float, sample_rate: int | None = None
) -> Tensor:
    """Pitch EG offset in octaves ``[B, N]`` at times ``t[N]``; rates/levels ``[B, 4]`` 0..99.

    ``sample_rate``: if given, segments last whole 64-sample updates as in Dexed (a
    segment ends on the update that reaches its level; the next starts on the
    following one) and move at Dexed's rounded step, ``table[rate] * round(64 * 2**24
    / (21.3 * sample_rate))`` (2**24 = one octave) per update (0.02% slower than
    ``table[rate] / 21.3`` octaves/s at 48 kHz: under a deep vibrato whose partials
    sweep across Nyquist the spectrum depends on the carrier's phase, and that 0.02%
    of a fast multi-octave sweep left a phase offset worth 1-2 dB LSD); None:
    continuous time at ``table[rate] / 21.3`` octaves/s.
    """
    lvl_table = torch.tensor(PITCH_LEVELS, dtype=levels.dtype, device=levels.device) / 32.0
    per_second = 1.0 / 21.3
    if sample_rate is not None:
        unit = math.floor(BLOCK * 2**24 / (21.3 * sample_rate) + 0.5)  # Dexed's PitchEnv::unit_
        per_second = unit * sample_rate / BLOCK / 2**24
    rate_table = torch.tensor(PITCH_RATES, dtype=rates.dtype, device=rates.device) * per_second
    targets = interp(levels, lvl_table)
    speeds = interp(rates, rate_table)
    block = None if sample_rate is None else BLOCK / sample_rate
    return _run(t, targets[:, 3:4], targets, speeds, note_off, curved=False, block=block)
