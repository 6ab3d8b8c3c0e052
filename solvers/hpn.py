"""Solver ``hpn``: DDSP's decoder (Engel et al. 2020) driving the harmonic-plus-noise synth; DDX7's reference.

Per-frame (f0, loudness) go through an MLP each, a GRU, and an MLP to the
controls of ``synth=harmonic_noise``: amplitude, harmonic distribution and noise
magnitudes, each through DDSP's scaled sigmoid ``2 sigmoid(x) ** ln 10 + 1e-7``.
Training, caching, solving and scoring: :mod:`solvers.resynthesis`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from solvers.base import Task, solver_registry
from solvers.resynthesis import Resynthesis
from soundmatch.errors import UserError


def scaled_sigmoid(x: Tensor) -> Tensor:
    """DDSP's output nonlinearity: positive, up to 2, with a gentle slope in dB."""
    return 2.0 * torch.sigmoid(x) ** math.log(10.0) + 1e-7


def mlp(n_in: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.LayerNorm(hidden), nn.LeakyReLU(),
        nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.LeakyReLU(),
    )  # fmt: skip


class GRUDecoder(nn.Module):
    """``[B, F, 2]`` -> ``[B, F, 1 + K + M]`` (amplitude, harmonic distribution, noise magnitudes)."""

    def __init__(self, hidden: int, n_out: int):
        super().__init__()
        self.f0_mlp, self.loud_mlp = mlp(1, hidden), mlp(1, hidden)
        self.gru = nn.GRU(2 * hidden, hidden, batch_first=True)
        self.out_mlp = mlp(3 * hidden, hidden)
        self.head = nn.Linear(hidden, n_out)

    def forward(self, inputs: Tensor) -> Tensor:
        a, b = self.f0_mlp(inputs[..., :1]), self.loud_mlp(inputs[..., 1:])
        h, _ = self.gru(torch.cat([a, b], dim=-1))
        return scaled_sigmoid(self.head(self.out_mlp(torch.cat([h, a, b], dim=-1))))


@solver_registry.register("hpn")
@dataclass
class HPN(Resynthesis):
    """DDSP harmonic-plus-noise decoder (plus the options of :class:`Resynthesis`).

    Args:
        hidden: width of the MLPs and the GRU (DDSP: 512).
    """

    hidden: int = 128

    name = "hpn"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hidden < 1:
            raise UserError("solver.hidden must be >= 1")

    def check_synth(self, synth: Any) -> None:
        if getattr(synth, "name", "") != "harmonic_noise":
            raise UserError("solver=hpn drives the harmonic-plus-noise synth; use synth=harmonic_noise")

    def build_decoder(self, task: Task) -> nn.Module:
        synth = task.synth
        return GRUDecoder(self.hidden, 1 + synth.n_harmonics + synth.n_noise_bands)

    def controls(self, task_synth: Any, out: Tensor, f0_hz: Tensor) -> dict[str, Tensor]:
        k = task_synth.n_harmonics
        return {
            "f0_hz": f0_hz,
            "amplitude": out[..., 0],
            "harmonics": out[..., 1 : 1 + k],
            "noise": out[..., 1 + k :],
        }
