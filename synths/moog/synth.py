"""``moog``: a modular subtractive synth whose chain of cells is data (after DiffMoog).

Parameters are the chain's cells' parameters, named ``<cell>.<param>`` (e.g.
``saw.transpose``, ``filter.cutoff``), in chain order, then one categorical
parameter ``<cell>.from_<source>`` with choices ``(off, on)`` per optional
connection: unit values below 0.5 switch that connection off. Solvers see the
gates like any categorical parameter; :meth:`Moog.sample` switches them on and
off at random (each on with probability 1/2).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from soundmatch.errors import UserError
from synths.base import Note, Param, ParamSpec, Synth, note_off_time, num_samples, synth_registry
from synths.moog.chain import Chain, load_chain
from synths.moog.modules import Context, PortInputs

GATE_CHOICES = ("off", "on")


@synth_registry.register("moog")
@dataclass
class Moog(Synth):
    """Modular subtractive synth: oscillators, LFOs, FM, noise, mixers, ADSRs, filters, tremolo.

    Args:
        chain: a shipped chain's name (``simple``, ``fm``, ``modular``), the path of
            a chain YAML file, or a chain mapping (see :mod:`synths.moog.chain`).
        hold: seconds from note-on to note-off; None -> 75% of the clip (DiffMoog:
            3 s of 4 s).
        noise_seed: seeds every noise cell (the same noise in every render).
        filter_block: samples per filter control period (cutoff updates), e.g. 32
            = 2 ms at 16 kHz.
    """

    chain: Any = "simple"
    hold: float | None = None
    noise_seed: int = 0
    filter_block: int = 32

    name = "moog"
    # band-limited oscillators: the gradient w.r.t. pitch leaves out the motion of the band-limiting
    # corrections at each discontinuity (finite differences of a transpose scatter by 2-4% around it)
    exact_gradients = False

    def __post_init__(self) -> None:
        if int(self.filter_block) < 2:
            raise UserError(f"synth.filter_block must be >= 2 samples, got {self.filter_block}")
        if self.hold is not None and not float(self.hold) > 0:
            raise UserError(f"synth.hold must be > 0 seconds (or null for 75% of the clip), got {self.hold}")
        self._chain: Chain = load_chain(self.chain)
        params: list[Param] = []
        plausible: list[tuple[float, float]] = []
        self._slots: list[dict[str, int]] = []  # per cell: local param name -> spec index
        self._gates: list[dict[str, int]] = []  # per cell: optional source -> spec index
        for cell in self._chain.cells:
            slots = {}
            for pd in cell.module.params():
                slots[pd.param.name] = len(params)
                params.append(_prefixed(pd.param, cell.name))
                plausible.append(pd.plausible)
            self._slots.append(slots)
        for cell in self._chain.cells:
            gates = {}
            for conn in cell.connections:
                if conn.optional:
                    gates[conn.source] = len(params)
                    params.append(
                        Param(
                            f"{cell.name}.from_{conn.source}", choices=GATE_CHOICES, doc="optional connection"
                        )
                    )
                    plausible.append((0.0, 1.0))
            self._gates.append(gates)
        self._spec = ParamSpec(params)
        self._plausible = torch.tensor(plausible, dtype=torch.float32)

    @property
    def spec(self) -> ParamSpec:
        return self._spec

    @property
    def chain_data(self) -> Chain:
        """The validated chain (cells, layers, connections)."""
        return self._chain

    def stages(
        self, params: Tensor, *, sample_rate: int, duration: float, note: Note | None = None
    ) -> dict[str, Tensor]:
        """Every cell's output ``[B, T]`` by cell name, in chain order, then ``output``.

        ``output`` is the average of the last layer's cells.
        """
        note = note or Note()
        ctx = Context(
            sample_rate=int(sample_rate),
            num_samples=num_samples(sample_rate, duration),
            note_hz=note.hz,
            hold=note_off_time(duration, self.hold),
            block=int(self.filter_block),
            noise_seed=int(self.noise_seed),
            device=params.device,
        )
        values = [p.to_physical(params[:, i]) for i, p in enumerate(self._spec.params)]
        out: dict[str, Tensor] = {}
        for cell, slots, gates in zip(self._chain.cells, self._slots, self._gates, strict=True):
            local = {k: values[i] for k, i in slots.items()}
            inputs: dict[str, PortInputs] = {}
            for conn in cell.connections:
                gate = values[gates[conn.source]].to(params.dtype) if conn.optional else None
                inputs.setdefault(conn.port, []).append((gate, out[conn.source]))
            out[cell.name] = cell.module.render(local, inputs, ctx)
        last = self._chain.outputs
        output = out[last[0]]
        for other in last[1:]:
            output = output + out[other]
        out["output"] = output / len(last) if len(last) > 1 else output
        return out

    def render(
        self, params: Tensor, *, sample_rate: int, duration: float, note: Note | None = None
    ) -> Tensor:
        return self.stages(params, sample_rate=sample_rate, duration=duration, note=note)["output"]

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` plausible patches ``[n, D]``: each parameter uniform over its cell's plausible
        sub-range of the unit interval (audible levels, sustain >= 0.3, moderate resonance ...),
        each optional connection on or off with probability 1/2."""
        u = torch.rand(n, self.dim, generator=generator)
        low, high = self._plausible[:, 0], self._plausible[:, 1]
        return low + (high - low) * u


def _prefixed(param: Param, cell: str) -> Param:
    return replace(param, name=f"{cell}.{param.name}")
