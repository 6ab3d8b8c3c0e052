"""Time-varying DX7 rendering for DDX7: per-frame f0 and operator levels through the DX7 operator network.

DDX7 (Caspe et al. 2022) fixes a voice's routing and frequency ratios and drives
only the six operator levels, frame by frame, from a network. Here the controls
(frame i at sample ``i * hop``) are interpolated linearly to the engine's 64-sample
block boundaries: levels give the operators' linear gains there (ramped across
each block by the kernel, as the amplitude EG is), f0 holds within each block.
Levels are in the engine's modulation unit, cycles (1.0 = 2 pi rad of phase
modulation); DDX7 bounds them at 0.32 (about 2 rad). No feedback, no Dexed
quantisation (the network's levels are continuous).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from synths.dx7.algorithms import algorithm
from synths.dx7.engine import OUTPUT_SCALE, _phase_blocks
from synths.dx7.envelope import BLOCK
from synths.dx7.kernel import operator_network
from synths.harmonic_noise import upsample


def render_levels(
    f0_hz: Tensor,
    levels: Tensor,
    *,
    ratios: list[float],
    algorithm_number: int,
    sample_rate: int,
    num_samples: int,
    hop: int,
) -> Tensor:
    """Audio ``[B, T]`` of a fixed DX7 configuration under per-frame controls.

    Args:
        f0_hz: ``[B, F]`` fundamental per control frame (Hz).
        levels: ``[B, F, 6]`` operator levels OP1..OP6 (cycles of phase modulation; a
            carrier at level g contributes ``OUTPUT_SCALE * g`` peak to the output).
        ratios: six frequency ratios OP1..OP6 (operator frequency = ratio * f0).
        algorithm_number: DX7 algorithm 1..32 (its feedback is not used).
        hop: samples between control frames.
    """
    blocks = math.ceil(num_samples / BLOCK)
    controls = torch.cat([f0_hz.unsqueeze(-1), levels], dim=-1)
    at_blocks = upsample(controls, hop / BLOCK, blocks + 1)  # [B, N + 1, 7] at the block boundaries
    f0, gains = at_blocks[..., 0], at_blocks[..., 1:].transpose(1, 2).contiguous()
    log2_ratio = torch.log2(torch.tensor(ratios, dtype=f0.dtype, device=f0.device))
    log2_ratio = log2_ratio.expand(f0.shape[0], -1)
    ratio_mode = torch.zeros_like(log2_ratio, dtype=torch.bool)  # every operator follows the f0 track
    pitch_oct = torch.log2(f0.clamp(min=1e-3))
    base, step = _phase_blocks(log2_ratio, pitch_oct, ratio_mode, sample_rate, gains.dtype)
    beta = f0.new_zeros(f0.shape[0])
    return operator_network(base, step, gains, beta, algorithm(algorithm_number), OUTPUT_SCALE, num_samples)
