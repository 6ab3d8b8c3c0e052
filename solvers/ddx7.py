"""Solver ``ddx7`` (Caspe, McPherson & Sandler 2022): a causal TCN drives a fixed DX7 configuration.

From per-frame (f0, loudness) a causal temporal convolutional network (dilated
1-D convolutions, each frame sees only itself and the past, as a real-time
instrument must) predicts the six operator levels of a fixed DX7 routing with
fixed frequency ratios (``synth=dx7_flute``, ``dx7_strings`` or ``dx7_brass``),
bounded by ``max_level`` (0.32 cycles, about 2 rad of modulation, as DDX7). It is
trained with the run's spectral loss on a suite's train split; see
:mod:`solvers.resynthesis` for training, caching, solving and how the match is scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from solvers.base import Task, solver_registry
from solvers.resynthesis import Resynthesis
from soundmatch.errors import UserError

OPS = 6


class CausalTCN(nn.Module):
    """(f0, loudness) frames ``[B, F, 2]`` -> operator levels ``[B, F, 6]`` in (0, max_level).

    A 1x1 input projection, ``layers`` residual blocks of causal convolutions
    (kernel ``kernel``, dilation doubling per layer, left padding only), a 1x1
    output projection and a sigmoid scaled by ``max_level``.
    """

    def __init__(self, hidden: int, layers: int, kernel: int, max_level: float):
        super().__init__()
        self.max_level = max_level
        self.inp = nn.Conv1d(2, hidden, 1)
        self.convs = nn.ModuleList(nn.Conv1d(hidden, hidden, kernel, dilation=2**i) for i in range(layers))
        self.pads = [(kernel - 1) * 2**i for i in range(layers)]
        self.out = nn.Conv1d(hidden, OPS, 1)

    def forward(self, inputs: Tensor) -> Tensor:
        h = self.inp(inputs.transpose(1, 2))
        for conv, pad in zip(self.convs, self.pads, strict=True):
            h = h + torch.relu(conv(nn.functional.pad(h, (pad, 0))))
        return self.max_level * torch.sigmoid(self.out(h)).transpose(1, 2)


@solver_registry.register("ddx7")
@dataclass
class DDX7(Resynthesis):
    """DDX7: causal TCN -> DX7 operator levels (plus the options of :class:`Resynthesis`).

    Args:
        hidden: TCN channels.
        layers: residual causal-convolution blocks (receptive field ``1 + (kernel-1)(2**layers - 1)`` frames).
        kernel: convolution width.
        max_level: operator level bound (cycles of phase modulation; DDX7: 0.32).
    """

    hidden: int = 64
    layers: int = 4
    kernel: int = 3
    max_level: float = 0.32

    name = "ddx7"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hidden < 1 or self.layers < 1 or self.kernel < 1 or self.max_level <= 0:
            raise UserError("solver.hidden, layers, kernel must be >= 1 and solver.max_level > 0")

    def check_synth(self, synth: Any) -> None:
        if getattr(synth, "name", "") != "dx7" or synth.algorithm is None or synth.ratios is None:
            raise UserError(
                "solver=ddx7 drives a fixed DX7 configuration; use synth=dx7_flute, dx7_strings or dx7_brass"
            )

    def build_decoder(self, task: Task) -> nn.Module:
        return CausalTCN(self.hidden, self.layers, self.kernel, self.max_level)

    def controls(self, task_synth: Any, out: Tensor, f0_hz: Tensor) -> dict[str, Tensor]:
        return {"f0_hz": f0_hz, "levels": out}
