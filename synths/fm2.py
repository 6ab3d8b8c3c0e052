"""Chowning's two-operator FM (phase modulation): one modulator, one carrier.

``y(t) = g * e(t) * sin(2 pi f_c t + I(t) * sin(2 pi r f_c t))`` where f_c is
the note's frequency, r the modulator ratio, I the modulation index in radians
and e(t) an ADSR. With ``index_envelope`` the index follows the same envelope:
``I(t) = I * (1 - depth + depth * e(t))`` (Chowning's brass and bell tones).
The steady-state spectrum has partials at f_c + n r f_c with amplitudes
``g * |J_n(I)|`` (Bessel functions of the first kind).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from synths.base import Note, Param, ParamSpec, Synth, note_off_time, num_samples, synth_registry
from synths.dsp import TWO_PI, adsr, phase_cycles, time_axis


@synth_registry.register("fm2")
@dataclass
class FM2(Synth):
    """Two-operator FM.

    Args:
        index_envelope: add the ``index_depth`` parameter (index follows the ADSR).
        hold: seconds from note-on to note-off; None -> 75% of the clip.
        max_index: upper bound of the modulation index, radians.
    """

    index_envelope: bool = True
    hold: float | None = None
    max_index: float = 10.0

    name = "fm2"

    def __post_init__(self) -> None:
        params = [
            Param("ratio", 0.25, 8.0, "log", doc="modulator frequency / carrier frequency"),
            Param("index", 0.0, self.max_index, unit="rad", doc="peak modulation index"),
            Param("gain", 0.03, 1.0, "log", doc="output amplitude"),
            Param("attack", 0.002, 0.5, "log", unit="s"),
            Param("decay", 0.01, 2.0, "log", unit="s"),
            Param("sustain", 0.0, 1.0),
            Param("release", 0.01, 2.0, "log", unit="s"),
        ]
        if self.index_envelope:
            params.append(Param("index_depth", 0.0, 1.0, doc="share of the index under the ADSR"))
        self._spec = ParamSpec(params)

    @property
    def spec(self) -> ParamSpec:
        return self._spec

    def stages(
        self,
        params: Tensor,
        *,
        sample_rate: int,
        duration: float,
        note: Note | None = None,
        damping: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """``modulator``: the phase deviation I(t) sin(...) in radians; ``output``: the audio.

        ``damping[B, 1]`` (radius r <= 1 of the surrogate, see :meth:`render_surrogate`)
        multiplies the modulator's sinusoid by r^n at sample n.
        """
        note = note or Note()
        p = self.spec.to_physical(params)
        n = num_samples(sample_rate, duration)
        t = time_axis(n, sample_rate, device=params.device)
        hold = note_off_time(duration, self.hold)
        env = adsr(t, p["attack"], p["decay"], p["sustain"], p["release"], hold)
        index = p["index"].unsqueeze(-1)
        if self.index_envelope:
            depth = p["index_depth"].unsqueeze(-1)
            index = index * (1.0 - depth + depth * env)
        f_c = torch.full_like(p["ratio"], note.hz)
        modulator = index * torch.sin(TWO_PI * phase_cycles(p["ratio"] * f_c, t))
        if damping is not None:
            n_idx = torch.arange(n, device=params.device, dtype=torch.float32)
            modulator = modulator * torch.exp(n_idx * torch.log(damping.clamp(min=1e-6)))
        carrier = torch.sin(TWO_PI * phase_cycles(f_c, t) + modulator)
        return {"modulator": modulator, "output": p["gain"].unsqueeze(-1) * env * carrier}

    def render(
        self, params: Tensor, *, sample_rate: int, duration: float, note: Note | None = None
    ) -> Tensor:
        return self.stages(params, sample_rate=sample_rate, duration=duration, note=note)["output"]

    # --- Hayes et al. (2023)'s complex-exponential surrogate for the sinusoidal frequency ---
    surrogate_params: ClassVar[tuple[str, ...]] = ("ratio",)

    def surrogate_omega(self, params: Tensor, *, sample_rate: int, note: Note | None = None) -> Tensor:
        """The modulator's angular frequency in radians per sample, ``[B, 1]``."""
        f_c = (note or Note()).hz
        ratio = self.spec["ratio"].to_physical(params[:, self.spec.index("ratio")])
        return (TWO_PI * ratio * f_c / sample_rate).unsqueeze(-1)

    def surrogate_unit(self, omega: Tensor, *, sample_rate: int, note: Note | None = None) -> Tensor:
        """Inverse of :meth:`surrogate_omega`: unit-cube ratio ``[B, 1]`` (differentiable)."""
        f_c = (note or Note()).hz
        return self.spec["ratio"].to_unit(omega * sample_rate / (TWO_PI * f_c))

    def render_surrogate(
        self, params: Tensor, damping: Tensor, *, sample_rate: int, duration: float, note: Note | None = None
    ) -> Tensor:
        """Audio with the modulator sin(w n) replaced by Im(z^n) = r^n sin(w n), z = r e^{iw}.

        ``damping[B, 1]`` is r (1 gives :meth:`render` exactly); differentiable in it.
        """
        return self.stages(params, sample_rate=sample_rate, duration=duration, note=note, damping=damping)[
            "output"
        ]

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """Uniform in the cube, but sustain >= 0.3 and attack <= ~60 ms so targets are audible."""
        u = torch.rand(n, self.dim, generator=generator)
        u[:, self.spec.index("sustain")] = 0.3 + 0.7 * u[:, self.spec.index("sustain")]
        u[:, self.spec.index("attack")] *= 0.6
        return u
