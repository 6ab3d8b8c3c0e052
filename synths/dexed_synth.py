"""Synth ``dexed``: the ``dx7`` parameter space rendered by Dexed itself (no gradients).

Every option, parameter and mapping is the ``dx7`` synth's (this class is a
subclass of it): a row of the unit cube becomes the DX7 voice
``unit_to_voice(row)`` and Dexed (msfa's engine, through dexed-py) plays it.
Black-box solvers can so match against the real engine
(``solver=cma synth=dexed``), and a match exports as the very voice that was
heard. Needs the optional extra ``dexed`` (dexed-py, GPL-3), imported only when
this synth is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from synths.base import Note, ReferenceRender, note_off_time, num_samples, synth_registry
from synths.dx7.reference import DexedRenderer, load_dexed
from synths.dx7.synth import DX7, decimate
from synths.dx7.voice import Voice


@synth_registry.register("dexed")
@dataclass
class Dexed(DX7):
    """The real DX7 engine (Dexed via dexed-py) on the ``dx7`` parameter space; not differentiable.

    Options are those of ``dx7``; ``quantize`` has no effect (Dexed plays whole DX7 values).
    """

    name = "dexed"
    differentiable = False

    def __post_init__(self) -> None:
        super().__post_init__()
        load_dexed()  # fail now, with the install hint, rather than at the first render
        self._renderer = DexedRenderer()

    def render(
        self, params: Tensor, *, sample_rate: int, duration: float, note: Note | None = None
    ) -> Tensor:
        """Each row's voice played by Dexed: ``[B, T]`` float32 on ``params``' device (at
        ``oversample`` times the rate and brought down, as ``dx7`` does)."""
        voices = [self.unit_to_voice(row) for row in params.detach().cpu()]
        rate = sample_rate * self.oversample
        audio = self.render_voices(voices, sample_rate=rate, duration=duration, note=note)
        return decimate(audio, self.oversample, num_samples(sample_rate, duration)).to(params.device)

    def reference_render(self, x: Tensor, *, note: Note | None, duration: float) -> ReferenceRender | None:
        """None: this synth is the reference engine itself."""
        return None

    def render_voices(
        self,
        voices: list[Voice],
        *,
        sample_rate: int,
        duration: float,
        note: Note | None = None,
        hold: float | None = None,
    ) -> Tensor:
        """DX7 voices exactly as given, played by Dexed, ``[len(voices), T]`` float32."""
        note = note or Note()
        out = torch.zeros(len(voices), num_samples(sample_rate, duration))
        for i, voice in enumerate(voices):
            out[i] = torch.from_numpy(self._renderer.render(
                voice,
                pitch=note.pitch,
                velocity=note.velocity,
                hold=note_off_time(duration, self.hold if hold is None else hold),
                duration=duration,
                sample_rate=sample_rate,
            ))
        return out
