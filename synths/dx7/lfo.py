"""The DX7 LFO at block rate: speed, delay, six waves, pitch and amplitude modulation depths.

Values follow Dexed: the LFO speed is a table of 100 rates measured on a DX7
(Dexed's ``lfoSource``, Hz), which Dexed turns into a phase step per 64-sample
block of ``floor(hz * floor(4437500000 * 64 / sample_rate))`` (2**32 = one
cycle), so it runs ``4437500000 / 2**32`` (3.3%) faster than the table says:
0.065 Hz at speed 0, 9.9 Hz at 60, 50.9 Hz at 99 (dexed-py's vibrato rate
within 0.001% at speeds 10-99). The rate has to be that exact: a deep
vibrato on a high partial is FM with an index of ``swing / rate`` (~65 at
PMD 88, PMS 6, speed 96 on ratio 31), whose spectrum follows the LFO's phase,
and an older closed form ``sr * mult * 25190424 / 2**32`` that was 0.01-0.1%
off drifted far enough within a second to cost 3-4 dB LSD. With key sync it starts at
half a cycle; without, at phase 0 (see :func:`lfo_wave`). Wave values lie in
[0, 1]: triangle, saw down, saw up, square, sine, sample-and-hold (the
engine's 8-bit generator ``r = (179 r + 17) mod 256``, a new value each
cycle, so it is deterministic). The delay holds the LFO at 0, then ramps it
in; PMD/AMD 0..99 scale to 0..255 (``floor(165 x / 64)``).

Pitch modulation (octaves) = ``pmd * pms_table[PMS] * delay * (wave - 1/2) / 2**15``
(about +-1 octave at full depth). Amplitude modulation scales the operator's
level (octaves) down by Dexed's empirical curve (:func:`amp_attenuation`):
about 2.5 dB of swing at AMS 1, 6 dB at AMS 2, silence at AMS 3 with AMD 99.

Speed and depths are differentiable; the wave is a choice; square and
sample-and-hold have no gradient with respect to speed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from synths.dx7.envelope import BLOCK, floor_ste, interp

LFO_HZ_PER_STEP = 25190424.0 / 2.0**32
PMS_TABLE = (0.0, 10.0, 20.0, 33.0, 55.0, 92.0, 153.0, 255.0)
AMS_TABLE = (0.0, 0.2588, 0.4275, 1.0)  # msfa's Q24 sensitivities 4342338, 7171437, 2**24
AM_AT_REST = 0.01185  # exp(12.2) / 2**24
AM_GROWTH = 4.48  # 0.07 * 2**24 / 262144
WAVES = ("triangle", "saw_down", "saw_up", "square", "sine", "sample_hold")


# Dexed's lfoSource: the DX7's LFO rate (Hz) at speeds 0..99, as measured on the hardware
LFO_SOURCE_HZ = (
    0.062541, 0.125031, 0.312393, 0.437120, 0.624610, 0.750694, 0.936330, 1.125302, 1.249609, 1.436782,
    1.560915, 1.752081, 1.875117, 2.062494, 2.247191, 2.374451, 2.560492, 2.686728, 2.873976, 2.998950,
    3.188013, 3.369840, 3.500175, 3.682224, 3.812065, 4.000800, 4.186202, 4.310716, 4.501260, 4.623209,
    4.814636, 4.930480, 5.121901, 5.315191, 5.434783, 5.617346, 5.750431, 5.946717, 6.062811, 6.248438,
    6.431695, 6.564264, 6.749460, 6.868132, 7.052186, 7.250580, 7.375719, 7.556294, 7.687577, 7.877738,
    7.993605, 8.181967, 8.372405, 8.504848, 8.685079, 8.810573, 8.986341, 9.122423, 9.300595, 9.500285,
    9.607994, 9.798158, 9.950249, 10.117361, 11.251125, 11.384335, 12.562814, 13.676149, 13.904338,
    15.092062, 16.366612, 16.638935, 17.869907, 19.193858, 19.425019, 20.833333, 21.034918, 22.502250,
    24.003841, 24.260068, 25.746653, 27.173913, 27.578599, 29.052876, 30.693677, 31.191516, 32.658393,
    34.317090, 34.674064, 36.416606, 38.197097, 38.550501, 40.387722, 40.749796, 42.625746, 44.326241,
    44.883303, 46.772685, 48.590865, 49.261084,
)  # fmt: skip
LFO_RATIO = 4437500000.0  # Dexed: phase step per block = floor(hz * floor(LFO_RATIO * 64 / sample_rate))


def lfo_hz(speed: Tensor, sample_rate: float = 48000.0) -> Tensor:
    """LFO speed 0..99 (continuous: the table is interpolated) -> frequency in Hz, as Dexed runs it."""
    table = torch.tensor(LFO_SOURCE_HZ, dtype=speed.dtype, device=speed.device)
    ratio = math.floor(LFO_RATIO * BLOCK / sample_rate)  # Dexed's step per block for 1 Hz
    return interp(speed, table) * (ratio * sample_rate / BLOCK / 2.0**32)


def delay_ramp(t: Tensor, delay: Tensor, sample_rate: float | None = None) -> Tensor:
    """LFO delay 0..99 -> fade-in factor ``[B, N]`` in [0, 1] at times ``t[N]`` s.

    The delay counter first runs through half its range (the LFO is off), then
    through the other half while the depth ramps from 0 to 1; the speeds grow
    exponentially as ``a = 99 - delay`` does: ``n = (16 + a % 16) * 2 ** (1 + floor(a / 16))``
    steps for the wait, and for the ramp ``n`` rounded down to a multiple of 128, at
    least 128, as Dexed does (so the ramp is up to 2x slower than the wait, 0.89x at
    delay 24; taking ``n`` for both made a deep vibrato's fade-in 12% too deep there).
    With ``sample_rate`` the counter moves once per 64-sample update (``t`` holds
    update times) and the update that ends the wait still moves at the wait's speed,
    so the ramp starts with that overshoot (up to 0.15% of full depth ahead of a
    continuous ramp: enough to shift the phase of a vibrato on a 13 kHz partial).
    """
    a = (99.0 - delay).clamp(0.0, 99.0).unsqueeze(-1)
    hi = torch.floor(a.detach() / 16.0)
    steps = (16.0 + a - 16.0 * hi) * torch.exp2(1.0 + hi)
    speed = steps * LFO_HZ_PER_STEP  # state per second
    speed2 = torch.clamp(floor_ste(steps / 128.0) * 128.0, min=128.0) * LFO_HZ_PER_STEP
    wait = 0.5 / speed
    start = wait  # when the ramp starts (s)
    if sample_rate is not None:  # on the first update at or after the wait
        block = BLOCK / sample_rate
        start = torch.ceil(wait.detach().double() / block - 1e-9).to(wait.dtype) * block
    t = t.unsqueeze(0)
    ramp = (start - wait) * speed * 2.0 + (t - start) * speed2 * 2.0
    ramp = torch.where(t < start, torch.zeros_like(ramp), ramp.clamp(0.0, 1.0))
    return torch.where(delay.unsqueeze(-1) < 0.5, torch.ones_like(ramp), ramp)


def _sample_hold_values(cycles: int) -> list[float]:
    r, out = 0, []
    for _ in range(cycles):
        r = (r * 179 + 17) & 0xFF
        out.append(((r ^ 0x80) + 1) / 256.0)
    return out


def _frac(x: Tensor) -> Tensor:
    return x - torch.floor(x)


def lfo_wave(t: Tensor, hz: Tensor, wave: Tensor, sync: Tensor | None = None) -> Tensor:
    """Wave values ``[B, N]`` in [0, 1] at times ``t[N]``; frequencies ``hz[B]``, wave indices ``wave[B]``.

    ``sync[B]`` (LFO key sync, default on): on, the LFO starts at half a cycle at
    note-on; off, at phase 0, where a fresh Dexed engine's free-running LFO
    stands at its first note (measured with dexed-py). A free-running LFO in a
    real performance stands wherever the previous notes left it: no single
    render can match that, only its rate and depth.
    """
    start = 0.5 if sync is None else 0.5 * (sync.detach().round() > 0.5).to(t.dtype).unsqueeze(-1)
    phase = hz.unsqueeze(-1) * t.unsqueeze(0) + start
    x = _frac(phase)
    tri = torch.where(x < 0.5, 2.0 * x, 2.0 - 2.0 * x)
    saw_down = _frac(1.5 - phase)
    saw_up = _frac(phase + 0.5)
    square = (x < 0.5).to(t.dtype).expand_as(x)
    sine = 0.5 + 0.5 * torch.sin(2.0 * torch.pi * phase)
    cycle = torch.floor(phase.detach()).long()
    held = torch.tensor(_sample_hold_values(int(cycle.max()) + 2), dtype=t.dtype, device=t.device)
    sample_hold = held[cycle.clamp(min=0)]
    stack = torch.stack([tri, saw_down, saw_up, square, sine, sample_hold], dim=0)  # [6, B, N]
    index = wave.long().clamp(0, 5).view(1, -1, 1).expand(1, *x.shape)
    return stack.gather(0, index)[0]


def pitch_modulation(pmd: Tensor, pms: Tensor, ramp: Tensor, wave: Tensor) -> Tensor:
    """Pitch offset in octaves ``[B, N]``: PMD 0..99, PMS 0..7 (continuous, interpolated) ``[B]``."""
    table = torch.tensor(PMS_TABLE, dtype=pmd.dtype, device=pmd.device)
    depth = floor_ste(165.0 * pmd / 64.0) * interp(pms, table)
    return (depth / 2.0**15).unsqueeze(-1) * ramp * (wave - 0.5)


def amp_attenuation(amd: Tensor, ams: Tensor, ramp: Tensor, wave: Tensor) -> Tensor:
    """Fraction of each operator's level (octaves) that LFO amplitude modulation removes, ``[B, 6, N]``.

    As Dexed: with ``x = floor(165 AMD / 64) / 256 * delay * (1 - wave) * ams_table[AMS]``
    the level is multiplied by ``1 - 0.01185 exp(4.48 x)`` (about 1 dB less at
    rest, up to silence at AMS 3, AMD 99); operators with AMS 0 are untouched.

    Args:
        amd: LFO amp-mod depth 0..99 ``[B]``; ams: the operators' sensitivities 0..3 ``[B, 6]``;
        ramp, wave: the LFO delay ramp and wave values ``[B, N]``.
    """
    table = torch.tensor(AMS_TABLE, dtype=amd.dtype, device=amd.device)
    depth = floor_ste(165.0 * amd / 64.0) / 256.0  # [B]
    # Dexed attenuates most where the wave is lowest (measured: a saw up rises in level)
    x = (depth.unsqueeze(-1) * ramp * (1.0 - wave)).unsqueeze(1) * interp(ams, table).unsqueeze(-1)
    # the AMS = 0 case is off in Dexed; fade the term in over 0 < AMS < 1 to stay continuous
    return AM_AT_REST * torch.exp(AM_GROWTH * x) * ams.clamp(0.0, 1.0).unsqueeze(-1)
