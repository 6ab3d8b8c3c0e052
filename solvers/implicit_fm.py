"""Fit the implicit FM net to one target: Adam on the net's raw weights (lr 0.01), one model per target.

The net is the ``implicit_fm`` synth; its weights are the unit-cube parameters up to
one linear map per coordinate (``raw = low + width * u``). Every Adam step spends one
render through :meth:`Problem.value_and_grad` (so the budget and the anytime curve
are the harness's), and the gradient is carried to the raw weights by the chain rule
(``dL/draw = dL/du / width``), so the step sizes are the reference recipe's.

The reference loss is the waveform L2 (``loss=l2``); any differentiable loss of the
run works. ``spikiness`` > 0 adds the reference's optional term
``-spikiness * (sum softmax(w_c)^2 + sum softmax(w_m)^2)`` to the objective; it
depends on the weights only, costs no render, and is not part of the recorded loss.

``init=spectrum`` (default) starts each carrier's logit at the log of the target's
magnitude spectrum around its pitch, its detune at the strongest bin there, and
the gain at the target's level; ``init=uniform`` starts from equal logits, no
detune, flat envelopes and 0 dB, as the reference net does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from solvers.base import Problem, Result, Solver, solver_registry
from soundmatch.errors import UserError
from synths.implicit_fm import ImplicitFM, midi_hz

INITS = ("spectrum", "uniform")


def spectrum_init(synth: ImplicitFM, audio: torch.Tensor, sample_rate: int) -> dict[str, torch.Tensor]:
    """Raw carrier logits, detunes and gain ``{group: [1, n_nodes] | [1]}`` read off ``audio[T]``."""
    audio = audio.detach().cpu().double()
    window = torch.hann_window(audio.shape[-1], periodic=False, dtype=torch.float64)
    mag = torch.fft.rfft(audio * window).abs()
    bin_hz = sample_rate / audio.shape[-1]
    pitches = synth.node_pitches().double()
    logits = torch.full((synth.n_nodes,), -synth.weight_range, dtype=torch.float64)
    detune = torch.zeros(synth.n_nodes, dtype=torch.float64)
    for k, pitch in enumerate(pitches.tolist()):
        lo = int(math.floor(float(midi_hz(torch.tensor(pitch - 0.5))) / bin_hz))
        hi = int(math.ceil(float(midi_hz(torch.tensor(pitch + 0.5))) / bin_hz))
        lo, hi = max(lo, 1), min(hi, mag.shape[-1] - 1)
        if lo > hi:
            continue
        band = mag[lo : hi + 1]
        peak = int(torch.argmax(band))
        logits[k] = math.log(float(band[peak]) + 1e-12)
        peak_pitch = 69.0 + 12.0 * math.log2((lo + peak) * bin_hz / 440.0)
        detune[k] = max(-synth.max_detune, min(synth.max_detune, peak_pitch - pitch))
    logits = (logits - logits.max()).clamp(-synth.weight_range, synth.weight_range)
    weights = torch.softmax(logits, dim=0)
    level = float(audio.square().mean().sqrt())
    model_level = float(weights.square().sum().div(2.0).sqrt())
    gain_db = 20.0 * math.log10(max(level, 1e-6) / model_level)
    gain_db = min(max(gain_db, synth.min_gain_db), synth.max_gain_db)
    return {
        "carrier_weight": logits.float()[None],
        "carrier_detune": detune.float()[None],
        "gain": torch.tensor([gain_db], dtype=torch.float32),
    }


@solver_registry.register("implicit_fm")
@dataclass
class ImplicitFMSolver(Solver):
    """One implicit FM net per target, trained by Adam (lr 0.01) on the run's loss (reference: l2).

    Args:
        lr: Adam learning rate on the raw weights.
        spikiness: weight of the reference's spikiness term (0 = off).
        init: ``spectrum`` (from the target's spectrum) or ``uniform`` (reference).
        steps: at most this many Adam steps; None = until the budget is spent.
    """

    lr: float = 0.01
    spikiness: float = 0.0
    init: str = "spectrum"
    steps: int | None = None

    name = "implicit_fm"

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise UserError(f"solver.init must be one of {INITS}, got '{self.init}'")

    def initial_raw(self, synth: ImplicitFM, problem: Problem) -> torch.Tensor:
        """The raw weights ``[1, D]`` the net starts from."""
        k = synth.n_nodes
        groups = {
            "carrier_detune": torch.zeros(1, k),
            "modulator_detune": torch.zeros(1, k),
            "carrier_weight": torch.zeros(1, k),
            "modulator_weight": torch.zeros(1, k),
            "carrier_env_rate": torch.full((1, k), -synth.env_range),
            "carrier_env_offset": torch.zeros(1, k),
            "modulator_env_rate": torch.full((1, k), -synth.env_range),
            "modulator_env_offset": torch.zeros(1, k),
            "phase": torch.zeros(1),
            "gain": torch.zeros(1),
        }
        if self.init == "spectrum":
            groups.update(spectrum_init(synth, problem.target.audio, problem.sample_rate))
        return synth.join(groups)

    def spikiness_grad(self, synth: ImplicitFM, raw: torch.Tensor) -> torch.Tensor:
        """Gradient ``[1, D]`` of ``-spikiness * (sum softmax(w_c)^2 + sum softmax(w_m)^2)``."""
        raw = raw.detach().requires_grad_(True)
        g = synth.split(raw)
        term = sum(torch.softmax(g[w], dim=-1).square().sum() for w in ("carrier_weight", "modulator_weight"))
        (grad,) = torch.autograd.grad(-self.spikiness * term, raw)
        return grad

    def check_synth(self, synth: Any) -> None:
        if not isinstance(synth, ImplicitFM):
            raise UserError(
                f"solver implicit_fm fits the implicit FM net; run it with synth=implicit_fm, "
                f"not synth={synth.name}"
            )

    def solve(self, problem: Problem) -> Result:
        synth = problem.synth
        self.check_synth(synth)
        width = synth.raw_width[None]
        raw = self.initial_raw(synth, problem).requires_grad_(True)
        opt = torch.optim.Adam([raw], lr=self.lr)
        step = 0
        while not problem.exhausted and (self.steps is None or step < self.steps):
            _, grad_unit = problem.value_and_grad(synth.to_unit(raw.detach()))
            grad = grad_unit / width
            if self.spikiness:
                grad = grad + self.spikiness_grad(synth, raw)
            opt.zero_grad()
            raw.grad = grad
            opt.step()
            with torch.no_grad():  # stay inside the cube's image
                raw.copy_(synth.to_raw(synth.to_unit(raw)))
            step += 1
        return Result(problem.best_x, {"steps": step})
