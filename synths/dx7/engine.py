"""The DX7 voice engine: DX7 values (as float tensors) in, audio out; batched and differentiable.

``render(values, ...)`` takes a dict of tensors in the DX7's own units (0-99
levels, coarse 0-31 ...; fractional values interpolate between the integer
steps) and renders what msfa/Dexed would for one note:

- operator frequency: ratio mode ``f_note * coarse (0 -> 0.5) * (1 + fine/100)``
  with Dexed's detune (``log2 f`` scaled by ``1 + 0.0209 exp(-0.396 log2 f) / 7 * (detune - 7)``,
  about 1 cent per step at A4); fixed mode ``10 ** (coarse % 4 + fine/100)`` Hz,
  detune above 7 adds ``13457 / 2**24`` octave per step;
- pitch: pitch EG plus LFO pitch modulation move every ratio-mode operator's
  frequency (fixed-frequency operators stay put, as in Dexed), constant within
  each 64-sample block; phases are accumulated in float64 per
  block and in float32 within it;
- level: the amplitude EG (:mod:`synths.dx7.envelope`) on top of the output
  level (``32 * min(127, s(OL) + keyboard level scaling)`` plus the velocity
  offset), minus LFO amplitude modulation; gain ``2 ** (level - 14)`` (0 at the
  EG's floor, where Dexed's operators are silent), ramped linearly across each block;
- operator: ``y = gain * sin(2 pi (phase + modulation))`` where modulation is
  the sum of its modulators' outputs (1.0 = one cycle: at full level a peak
  index of 4 pi rad) plus, for the feedback target, the feedback; everything
  per sample runs in one compiled loop with its own adjoint (:mod:`synths.dx7.kernel`);
- output: half the sum of the carriers (a lone carrier at full level peaks at
  1.0, as in dexed-py), with Dexed's resolution (sines in steps of 2**-10, the
  output rounded down to steps of 2**-12; straight-through gradients).

Key sync of the oscillators is assumed on (phases start at 0 at note-on). The
LFO follows the voice's ``lfo_sync``: on, it restarts at half a cycle at
note-on; off, it runs free from the engine's start, which for one note played
by a fresh engine (as dexed-py renders a voice) is phase 0 at note-on.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from synths.dx7.algorithms import algorithm
from synths.dx7.envelope import BLOCK, amp_envelope, block_times, floor_ste, pitch_envelope, scale_level
from synths.dx7.kernel import feedback_scale, operator_network
from synths.dx7.lfo import amp_attenuation, delay_ramp, lfo_hz, lfo_wave, pitch_modulation

OPS = 6
OUTPUT_SCALE = 0.5
# Dexed's resolution, measured against dexed-py: each operator's sine moves in steps
# of 2**-10 (this reproduces its noise floor: about -106 dB for a lone sine, -85 dB
# between the partials of a deeply modulated voice) and its output in steps of 2**-12.
SINE_STEPS = 1024
SILENT_LEVEL = 16.5 / 256  # octaves: just above the EG's floor (A = 16)
OUTPUT_STEPS = 4096
# velocity 0..127 (halved) -> the engine's velocity curve (msfa's velocity_data)
_VELOCITY_CURVE = (
    0, 70, 86, 97, 106, 114, 121, 126, 132, 138, 142, 148, 152, 156, 160, 163, 166, 170, 173, 174, 178,
    181, 184, 186, 189, 190, 194, 196, 198, 200, 202, 205, 206, 209, 211, 214, 216, 218, 220, 222, 224,
    225, 227, 229, 230, 232, 233, 235, 237, 238, 240, 241, 242, 243, 244, 246, 246, 248, 249, 250, 251,
    252, 253, 254,
)  # fmt: skip
# keyboard level scaling, exponential curves: group -> raw scale
_EXP_SCALE = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 14, 16, 19, 23, 27, 33, 39, 47, 56, 66, 80, 94, 110, 126, 142,
    158, 174, 190, 206, 222, 238, 250,
)  # fmt: skip

# Dexed's midinote_to_logfreq: int(2**24 * (log2(440) - 69/12)) + (2**24 // 12) * note
_NOTE_BASE_Q24 = math.floor(2**24 * (math.log2(440.0) - 69.0 / 12.0))
_NOTE_STEP_Q24 = 2**24 // 12

# Per-operator value names ([B, 6] tensors; rates and levels [B, 6, 4]) and global ones ([B]).
OP_FIELDS = (
    "rates", "levels", "output_level", "coarse", "fine", "detune", "mode", "velocity_sens",
    "rate_scaling", "amp_mod_sens", "break_point", "left_depth", "right_depth", "left_curve",
    "right_curve",
)  # fmt: skip
GLOBAL_FIELDS = (
    "pitch_rates", "pitch_levels", "algorithm", "feedback", "lfo_speed", "lfo_delay", "lfo_pmd",
    "lfo_amd", "lfo_wave", "lfo_sync", "pitch_mod_sens", "transpose",
)  # fmt: skip


def velocity_offset(velocity: int, sensitivity: Tensor) -> Tensor:
    """Output-level offset (A units) for a key velocity and sensitivity 0..7: ``16 floor((s v + 7)/8)``."""
    v = _VELOCITY_CURVE[max(0, min(127, int(velocity))) >> 1] - 239
    return 16.0 * floor_ste((sensitivity * v + 7.0) / 8.0)


def keyboard_level_scaling(note: Tensor, ops: dict[str, Tensor]) -> Tensor:
    """Level offset (output-level steps, added to ``s(OL)``) from the keyboard scaling, ``[B, 6]``.

    Not differentiated: these values are taken from the voice as they are.
    """
    bp = ops["break_point"].detach().round()
    offset = note.detach().round().unsqueeze(-1) - bp - 17.0
    right = offset >= 0
    group = torch.where(
        right,
        torch.div(offset + 1, 3, rounding_mode="trunc"),
        torch.div(1 - offset, 3, rounding_mode="trunc"),
    )
    depth = torch.where(right, ops["right_depth"], ops["left_depth"]).detach().round()
    curve = torch.where(right, ops["right_curve"], ops["left_curve"]).detach().round()
    exp_table = torch.tensor(_EXP_SCALE, dtype=group.dtype, device=group.device)
    raw = exp_table[group.clamp(0, len(_EXP_SCALE) - 1).long()]
    linear = torch.div(group * depth * 329, 2**12, rounding_mode="floor")
    expo = torch.div(raw * depth * 329, 2**15, rounding_mode="floor")
    scale = torch.where((curve == 0) | (curve == 3), linear, expo)
    return torch.where(curve < 2, -scale, scale)


def rate_scaling_steps(note: Tensor, sensitivity: Tensor) -> Tensor:
    """Keyboard rate scaling 0..7 -> q steps added to EG rates: ``floor(s * clamp(key//3 - 7, 0, 31)/8)``."""
    x = torch.clamp(torch.div(note.detach().round(), 3, rounding_mode="floor") - 7, 0, 31)
    return floor_ste(sensitivity * x.unsqueeze(-1) / 8.0)


def operator_log2_hz(note: Tensor, ops: dict[str, Tensor]) -> Tensor:
    """log2 of each operator's frequency in Hz before pitch modulation, ``[B, 6]``."""
    coarse, fine, detune = ops["coarse"], ops["fine"], ops["detune"]
    # Dexed's note pitch in Q24 octaves: a truncated base plus a truncated step per semitone
    # (2**24 // 12), 1.2e-6 octave flat at note 60: a 0.08-cycle phase drift per second
    # at 54 kHz, which a vibrato sweeping aliases across 0 Hz or Nyquist turns into LSD
    log_note = ((_NOTE_BASE_Q24 + _NOTE_STEP_Q24 * note) / 2.0**24).unsqueeze(-1)
    detune_ratio = 0.0209 * torch.exp(-0.396 * log_note) / 7.0
    mult = torch.where(coarse < 1.0, 0.5 + 0.5 * coarse.clamp(min=0.0), coarse)
    ratio = log_note * (1.0 + detune_ratio * (detune - 7.0))
    ratio = ratio + torch.log2(mult) + torch.log2(1.0 + fine / 100.0)
    decades = torch.remainder(coarse, 4.0) + fine / 100.0
    fixed = math.log2(10.0) * decades + (13457.0 / 2**24) * torch.clamp(detune - 7.0, min=0.0)
    return torch.where(ops["mode"] >= 0.5, fixed, ratio)


def _phase_blocks(
    log2_hz: Tensor, pitch_oct: Tensor, fixed: Tensor, sample_rate: int, dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """Operator phases per block: start (cycles, wrapped) and increment per sample, each ``[B, 6, N]``.

    Frequency ``2 ** (log2_hz[B, 6] + pitch_oct[B, block])`` holds within a block
    (``pitch_oct[B, N+1]``: block j uses entry j + 1, the level after its update, as
    in Dexed); operators in fixed-frequency mode (``fixed[B, 6]``) keep ``2 ** log2_hz``:
    Dexed moves neither by the pitch EG nor by the LFO. As in Dexed the increment is
    rounded down to a multiple of 2**-24 cycles (its phases are Q24 integers), on
    average 0.0014 Hz flat at 48 kHz (straight-through gradient). Block starts are
    summed in float64 so long notes keep exact phases; within a block float32 is exact enough.
    """
    mult = torch.exp2(pitch_oct[:, 1:].to(torch.float64)).unsqueeze(1)  # [B, 1, N]
    mult = torch.where(fixed.unsqueeze(-1), torch.ones_like(mult), mult)  # [B, 6, N]
    hz = torch.exp2(log2_hz.to(torch.float64)).unsqueeze(-1)  # [B, 6, 1]
    step = floor_ste(hz * (mult * (2.0**24 / sample_rate))) / 2.0**24  # cycles per sample
    per_block = step * BLOCK
    cycles = torch.cumsum(per_block, dim=-1) - per_block
    base = cycles - torch.floor(cycles)
    return base.to(dtype), step.to(dtype)


def render(
    values: dict[str, Tensor],
    *,
    pitch: float,
    velocity: int,
    sample_rate: int,
    num_samples: int,
    hold: float,
) -> Tensor:
    """Render DX7 values to audio ``[B, T]`` (float32); see the module docstring.

    Args:
        values: every name in OP_FIELDS and GLOBAL_FIELDS; per-operator tensors
            are ``[B, 6]`` in operator order OP1..OP6 (rates/levels ``[B, 6, 4]``),
            global ones ``[B]``; ``algorithm`` holds 1..32.
        pitch: MIDI note played (before the voice's transpose).
        velocity: key velocity 1..127.
        hold: seconds from note-on to note-off.
    """
    algos = values["algorithm"].round().long()
    numbers = torch.unique(algos).tolist()
    if len(numbers) == 1:
        return _render_one(values, int(numbers[0]), pitch, velocity, sample_rate, num_samples, hold)
    out = values["feedback"].new_zeros(algos.shape[0], num_samples)
    for number in numbers:  # voices with different algorithms are rendered group by group
        idx = (algos == number).nonzero().squeeze(-1)
        group = {k: v.index_select(0, idx) for k, v in values.items()}
        audio = _render_one(group, int(number), pitch, velocity, sample_rate, num_samples, hold)
        out = out.index_copy(0, idx, audio)
    return out


def _render_one(
    v: dict[str, Tensor],
    number: int,
    pitch: float,
    velocity: int,
    sample_rate: int,
    num_samples: int,
    hold: float,
) -> Tensor:
    algo = algorithm(number)
    batch = v["feedback"].shape[0]
    dtype = v["feedback"].dtype
    device = v["feedback"].device
    note = pitch + v["transpose"] - 24.0  # [B]
    t = block_times(num_samples, sample_rate, dtype=dtype, device=device)

    # levels (octaves) at block boundaries, every operator at once: rows are (voice, operator)
    level_steps = torch.clamp(scale_level(v["output_level"]) + keyboard_level_scaling(note, v), max=127.0)
    outlevel = torch.clamp(32.0 * level_steps + velocity_offset(velocity, v["velocity_sens"]), min=0.0)
    levels = amp_envelope(
        t,
        v["rates"].reshape(-1, 4),
        v["levels"].reshape(-1, 4),
        outlevel.reshape(-1),
        rate_scaling_steps(note, v["rate_scaling"]).reshape(-1),
        hold,
        sample_rate,
    ).view(batch, OPS, -1)

    # LFO: pitch and amplitude modulation
    ramp = delay_ramp(t, v["lfo_delay"], sample_rate)
    sync = v.get("lfo_sync", torch.ones_like(v["lfo_wave"]))  # value dicts made before sync existed
    wave = lfo_wave(t, lfo_hz(v["lfo_speed"], sample_rate), v["lfo_wave"], sync)
    levels = levels * (1.0 - amp_attenuation(v["lfo_amd"], v["amp_mod_sens"], ramp, wave))
    # an operator at the EG's floor is silent in Dexed (its output is exactly 0)
    gains = torch.where(levels > SILENT_LEVEL, torch.exp2(levels - 14.0), torch.zeros_like(levels))
    pitch_oct = pitch_envelope(t, v["pitch_rates"], v["pitch_levels"], hold, sample_rate)
    pitch_oct = pitch_oct + pitch_modulation(v["lfo_pmd"], v["pitch_mod_sens"], ramp, wave)

    fixed = v["mode"] >= 0.5
    # in float64: float32 rounds log2 f near 16 (65 kHz, which aliases) to 2e-6 octave
    exact = {k: v[k].double() for k in ("coarse", "fine", "detune", "mode")}
    log2_hz = operator_log2_hz(note.double(), exact)
    base, step = _phase_blocks(log2_hz, pitch_oct, fixed, sample_rate, gains.dtype)
    beta = feedback_scale(v["feedback"]) * algo.feedback_gain
    args = (OUTPUT_SCALE, num_samples, SINE_STEPS, OUTPUT_STEPS)
    return operator_network(base, step, gains, beta, algo, *args)
