"""The cells of the modular synth: sources (oscillators, LFO, noise) and processors.

Every cell type is a :class:`Module` subclass that declares its input ports, its
options (set in the chain's data), its parameters (physical ranges and the
sub-range of the unit interval its plausible patches use) and how it renders.
A cell renders ``[B, T]`` float32 from its parameters (``{local name: Tensor[B]}``
in physical units) and its inputs; the inputs of one port are averaged, each
optional connection weighted by its on/off gate.

Conventions (after DiffMoog, Uzrad et al. 2024, with gradients that flow):
oscillators are their Fourier series cut at Nyquist (``additive_waveform``: no
aliasing, and frequency gets the true gradient through the phase, no ``sign()``);
oscillator frequencies are semitones from the played note (the default +-36
around C4 spans DiffMoog's 32.7-2093 Hz); phases are in cycles; an oscillator
with a ``mod`` input is a phase-modulation (FM) oscillator,
``amp * wave(f t + phase + index * m(t) / (2 pi))`` with ``index`` in radians;
LFO outputs lie in [-1, 1]; filter cutoffs are Hz, resonance is the filter's Q.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import torch
from torch import Tensor

from soundmatch.seeding import derive_seed
from synths.base import Param
from synths.dsp import TWO_PI, adsr, time_axis
from synths.moog.filters import biquad_coefficients, block_mean, time_varying_biquad
from synths.oscillators import WAVEFORMS, additive_waveform

# (gate or None, signal [B, T]) for every source feeding one port
PortInputs = list[tuple[Tensor | None, Tensor]]


@dataclass(frozen=True)
class Context:
    """What every cell of one render shares.

    Attributes:
        sample_rate: Hz. num_samples: T. note_hz: the played note's frequency, Hz.
        hold: note-on to note-off, seconds (envelopes release after it).
        block: samples per filter control period. noise_seed: seeds every noise cell.
        device: where the tensors live.
    """

    sample_rate: int
    num_samples: int
    note_hz: float
    hold: float
    block: int
    noise_seed: int
    device: torch.device

    def time(self) -> Tensor:
        """Sample times in seconds, ``[T]`` float64."""
        return time_axis(self.num_samples, self.sample_rate, device=self.device)

    def block_times(self) -> Tensor:
        """Start times of the filter control blocks, seconds, ``[K]``."""
        num = -(-self.num_samples // self.block)
        return torch.arange(num, device=self.device, dtype=torch.float64) * self.block / self.sample_rate


@dataclass(frozen=True)
class ParamDef:
    """A cell parameter (local name) and the unit sub-range ``plausible`` the sampler draws from."""

    param: Param
    plausible: tuple[float, float] = (0.0, 1.0)


def port_mean(inputs: PortInputs) -> Tensor:
    """Average of a port's sources, ``[B, T]``; a gated source counts as 0 when off."""
    total = None
    for gate, signal in inputs:
        term = signal if gate is None else gate.unsqueeze(-1) * signal
        total = term if total is None else total + term
    assert total is not None
    return total if len(inputs) == 1 else total * (1.0 / len(inputs))


def start_phase(freq: Tensor, phase0: Tensor, ctx: Context) -> Tensor:
    """Phase in cycles, [0, 1), ``[B, T]`` float32, of ``freq[B]`` Hz starting at ``phase0[B]`` cycles.

    Formed and wrapped in float64 (as :func:`synths.dsp.phase_cycles`, which explains
    why) in one fused step; the gradient is ``t`` for frequency and 1 for the phase.
    """
    cycles = torch.addcmul(
        phase0.to(torch.float64).unsqueeze(-1), freq.to(torch.float64).unsqueeze(-1), ctx.time()
    )
    return torch.remainder(cycles, 1.0).to(torch.float32)


def envelope_params(prefix: str = "") -> list[ParamDef]:
    """ADSR parameters: segment times in seconds (log scale), sustain level in [0, 1]."""
    return [
        ParamDef(Param(f"{prefix}attack", 0.002, 1.0, "log", unit="s"), (0.0, 0.6)),
        ParamDef(Param(f"{prefix}decay", 0.01, 2.0, "log", unit="s")),
        ParamDef(Param(f"{prefix}sustain", 0.0, 1.0, doc="level after the decay"), (0.3, 1.0)),
        ParamDef(Param(f"{prefix}release", 0.01, 2.0, "log", unit="s")),
    ]


@dataclass
class Module:
    """One cell: its name, options (from the chain's data) and sources per port.

    Subclasses set ``ports`` (port -> (min sources, max sources or None)),
    ``defaults`` (option -> default value) and implement :meth:`param_defs` and
    :meth:`render`. Every cell accepts the option ``ranges: {param: [low, high]}``
    to change a parameter's physical range.
    """

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, list[str]] = field(default_factory=dict)

    kind: ClassVar[str] = ""
    ports: ClassVar[dict[str, tuple[int, int | None]]] = {}
    defaults: ClassVar[dict[str, Any]] = {}

    def option(self, key: str) -> Any:
        return self.options.get(key, self.defaults.get(key))

    def param_defs(self) -> list[ParamDef]:
        """Parameters with local names, before ``ranges`` overrides."""
        return []

    def params(self) -> list[ParamDef]:
        """Parameters with the chain's ``ranges`` applied (local names)."""
        ranges = self.options.get("ranges") or {}
        out = []
        for pd in self.param_defs():
            if pd.param.name in ranges:
                low, high = (float(v) for v in ranges[pd.param.name])
                pd = replace(pd, param=replace(pd.param, low=low, high=high))
            out.append(pd)
        return out

    def render(self, p: dict[str, Tensor], inputs: dict[str, PortInputs], ctx: Context) -> Tensor:
        """``[B, T]`` from physical parameters ``p`` and the inputs of each connected port."""
        raise NotImplementedError


def _waveform_param(options: list[str]) -> Param:
    return Param("waveform", choices=tuple(options), doc="oscillator waveform")


class _WaveMixin:
    """Waveform handling shared by oscillators and LFOs: fixed (a name) or a parameter (a list)."""

    def waveforms(self) -> list[str]:
        value = self.option("waveform")  # type: ignore[attr-defined]
        return list(value) if isinstance(value, list | tuple) else [str(value)]

    def waveform_defs(self) -> list[ParamDef]:
        names = self.waveforms()
        return [ParamDef(_waveform_param(names))] if len(names) > 1 else []

    def shape(self, p: dict[str, Tensor], phase: Tensor, freq: Tensor, sample_rate: int) -> Tensor:
        """The waveform at ``phase[B, T]``, band-limited for ``freq[B]`` Hz; a categorical
        waveform selects per row."""
        names = self.waveforms()
        if len(names) == 1:
            return additive_waveform(names[0], phase, freq, sample_rate)
        choice = p["waveform"]
        out = torch.zeros_like(phase)
        for i, name in enumerate(names):
            rows = choice == i
            if bool(rows.any()):
                wave = additive_waveform(name, phase, freq, sample_rate)
                out = out + rows.to(phase.dtype).unsqueeze(-1) * wave
        return out


@dataclass
class Oscillator(_WaveMixin, Module):
    """Oscillator at ``note * 2**(transpose/12)`` Hz, additive (cut at Nyquist); FM when ``mod`` is fed.

    Parameters: ``transpose`` (semitones), ``amp``, ``phase`` (cycles), ``waveform``
    when the option lists several, ``index`` (radians) when a ``mod`` input exists.
    """

    kind: ClassVar[str] = "osc"
    ports: ClassVar[dict[str, tuple[int, int | None]]] = {"mod": (0, None)}
    defaults: ClassVar[dict[str, Any]] = {"waveform": "saw"}

    def param_defs(self) -> list[ParamDef]:
        defs = [
            ParamDef(Param("transpose", -36.0, 36.0, unit="semitones", doc="from the note"), (1 / 6, 5 / 6)),
            ParamDef(Param("amp", 0.01, 1.0, doc="peak amplitude"), (0.3, 1.0)),
            ParamDef(Param("phase", 0.0, 1.0, unit="cycles", doc="initial phase")),
            *self.waveform_defs(),
        ]
        if self.sources.get("mod"):
            defs.append(ParamDef(Param("index", 0.0, 10.0, unit="rad", doc="phase-modulation index")))
        return defs

    def render(self, p: dict[str, Tensor], inputs: dict[str, PortInputs], ctx: Context) -> Tensor:
        freq = ctx.note_hz * torch.pow(2.0, p["transpose"] / 12.0)
        freq = freq.clamp(max=0.45 * ctx.sample_rate)
        phase = start_phase(freq, p["phase"], ctx)
        if "mod" in inputs:
            deviation = p["index"].unsqueeze(-1) * port_mean(inputs["mod"]) / TWO_PI  # cycles
            phase = torch.remainder(phase + deviation, 1.0)
        return p["amp"].unsqueeze(-1) * self.shape(p, phase, freq, ctx.sample_rate)


@dataclass
class FMOscillator(Oscillator):
    """An oscillator whose ``mod`` input is required (DiffMoog's FM oscillator); sine by default."""

    kind: ClassVar[str] = "fm"
    ports: ClassVar[dict[str, tuple[int, int | None]]] = {"mod": (1, None)}
    defaults: ClassVar[dict[str, Any]] = {"waveform": "sine"}


@dataclass
class LFO(_WaveMixin, Module):
    """Low-frequency oscillator in [-1, 1]: ``rate`` (Hz, log 0.5-15), ``phase`` (cycles)."""

    kind: ClassVar[str] = "lfo"
    defaults: ClassVar[dict[str, Any]] = {"waveform": "sine"}

    def param_defs(self) -> list[ParamDef]:
        return [
            ParamDef(Param("rate", 0.5, 15.0, "log", unit="Hz")),
            ParamDef(Param("phase", 0.0, 1.0, unit="cycles")),
            *self.waveform_defs(),
        ]

    def render(self, p: dict[str, Tensor], inputs: dict[str, PortInputs], ctx: Context) -> Tensor:
        phase = start_phase(p["rate"], p["phase"], ctx)
        return self.shape(p, phase, p["rate"], ctx.sample_rate)


@dataclass
class Noise(Module):
    """White noise, uniform in ``[-amp, amp]``; the same seeded signal in every row and render.

    Seeded from the synth's ``noise_seed`` and the cell's name, so a render is
    deterministic and a matched patch can reproduce the target's noise exactly.
    """

    kind: ClassVar[str] = "noise"

    def param_defs(self) -> list[ParamDef]:
        return [ParamDef(Param("amp", 0.01, 1.0, "log", doc="peak amplitude"), (0.0, 0.6))]

    def render(self, p: dict[str, Tensor], inputs: dict[str, PortInputs], ctx: Context) -> Tensor:
        gen = torch.Generator().manual_seed(derive_seed(ctx.noise_seed, "moog-noise", self.name))
        white = torch.rand(ctx.num_samples, generator=gen).to(ctx.device) * 2.0 - 1.0
        return p["amp"].unsqueeze(-1) * white


@dataclass
class Mixer(Module):
    """``sum_i gain_i * x_i / n`` over its n inputs; one ``gain_<source>`` in [0, 1] per input."""

    kind: ClassVar[str] = "mix"
    ports: ClassVar[dict[str, tuple[int, int | None]]] = {"in": (1, None)}

    def param_defs(self) -> list[ParamDef]:
        return [ParamDef(Param(f"gain_{s}", 0.0, 1.0), (0.3, 1.0)) for s in self.sources.get("in", [])]

    def render(self, p: dict[str, Tensor], inputs: dict[str, PortInputs], ctx: Context) -> Tensor:
        weighted = [
            (p[f"gain_{s}"] if gate is None else p[f"gain_{s}"] * gate, x)
            for s, (gate, x) in zip(self.sources["in"], inputs["in"], strict=True)
        ]
        return port_mean(weighted)


@dataclass
class ADSR(Module):
    """Amplitude envelope: input times a linear ADSR; note-off at the context's ``hold``."""

    kind: ClassVar[str] = "adsr"
    ports: ClassVar[dict[str, tuple[int, int | None]]] = {"in": (1, None)}

    def param_defs(self) -> list[ParamDef]:
        return envelope_params()

    def render(self, p: dict[str, Tensor], inputs: dict[str, PortInputs], ctx: Context) -> Tensor:
        env = adsr(ctx.time(), p["attack"], p["decay"], p["sustain"], p["release"], ctx.hold)
        return port_mean(inputs["in"]) * env


@dataclass
class Filter(Module):
    """Resonant biquad low-pass or high-pass whose cutoff may move over time.

    ``cutoff(t) = cutoff * 2 ** (env_amount * adsr(t) + mod_depth * m(t))`` in Hz,
    held per control block (``m`` is the ``mod`` input averaged over the block),
    clipped to [20 Hz, 0.45 sr]. Parameters: ``cutoff`` (Hz), ``resonance`` (Q);
    with the option ``envelope: true`` also ``env_amount`` (octaves) and the
    envelope's ``env_attack``, ``env_decay``, ``env_sustain``, ``env_release``;
    with a ``mod`` input ``mod_depth`` (octaves).
    """

    kind: ClassVar[str] = ""  # "lowpass" or "highpass" in the subclasses
    ports: ClassVar[dict[str, tuple[int, int | None]]] = {"in": (1, None), "mod": (0, None)}
    defaults: ClassVar[dict[str, Any]] = {"envelope": False}
    cutoff_plausible: ClassVar[tuple[float, float]] = (0.3, 1.0)

    def param_defs(self) -> list[ParamDef]:
        defs = [
            ParamDef(Param("cutoff", 100.0, 8000.0, "log", unit="Hz"), self.cutoff_plausible),
            ParamDef(Param("resonance", 0.5, 10.0, "log", doc="Q; 0.707 = Butterworth"), (0.0, 0.6)),
        ]
        if self.option("envelope"):
            defs.append(ParamDef(Param("env_amount", -4.0, 4.0, unit="octaves")))
            defs.extend(envelope_params("env_"))
        if self.sources.get("mod"):
            defs.append(ParamDef(Param("mod_depth", 0.0, 2.0, unit="octaves"), (0.0, 0.5)))
        return defs

    def cutoff_track(self, p: dict[str, Tensor], inputs: dict[str, PortInputs], ctx: Context) -> Tensor:
        """Cutoff in Hz per control block, ``[B, K]`` (``[B, 1]`` when it does not move)."""
        octaves = None
        if self.option("envelope"):
            env = adsr(
                ctx.block_times(),
                p["env_attack"],
                p["env_decay"],
                p["env_sustain"],
                p["env_release"],
                ctx.hold,
            )
            octaves = p["env_amount"].unsqueeze(-1) * env
        if "mod" in inputs:
            mod = p["mod_depth"].unsqueeze(-1) * block_mean(port_mean(inputs["mod"]), ctx.block)
            octaves = mod if octaves is None else octaves + mod
        cutoff = p["cutoff"].unsqueeze(-1)
        if octaves is not None:
            cutoff = cutoff * torch.pow(2.0, octaves)
        return cutoff.clamp(20.0, 0.45 * ctx.sample_rate)

    def render(self, p: dict[str, Tensor], inputs: dict[str, PortInputs], ctx: Context) -> Tensor:
        coeffs = biquad_coefficients(
            self.kind, self.cutoff_track(p, inputs, ctx), p["resonance"].unsqueeze(-1), ctx.sample_rate
        )
        return time_varying_biquad(port_mean(inputs["in"]), *coeffs, block=ctx.block)


@dataclass
class LowPass(Filter):
    kind: ClassVar[str] = "lowpass"


@dataclass
class HighPass(Filter):
    kind: ClassVar[str] = "highpass"
    cutoff_plausible: ClassVar[tuple[float, float]] = (0.0, 0.5)


@dataclass
class Tremolo(Module):
    """``x * (amount * (m + 1) / 2 + 1 - amount)`` with ``m`` the ``mod`` input (DiffMoog's tremolo)."""

    kind: ClassVar[str] = "tremolo"
    ports: ClassVar[dict[str, tuple[int, int | None]]] = {"in": (1, None), "mod": (1, None)}

    def param_defs(self) -> list[ParamDef]:
        return [ParamDef(Param("amount", 0.05, 1.0, doc="depth of the amplitude modulation"))]

    def render(self, p: dict[str, Tensor], inputs: dict[str, PortInputs], ctx: Context) -> Tensor:
        amount = p["amount"].unsqueeze(-1)
        gain = amount * (port_mean(inputs["mod"]) + 1.0) / 2.0 + 1.0 - amount
        return port_mean(inputs["in"]) * gain


MODULES: dict[str, type[Module]] = {
    m.kind: m for m in (Oscillator, FMOscillator, LFO, Noise, Mixer, ADSR, LowPass, HighPass, Tremolo)
}


def check_waveform_option(value: Any) -> str | None:
    """None when ``value`` is a waveform name or a list of them, else what is wrong."""
    names = value if isinstance(value, list | tuple) else [value]
    bad = [n for n in names if n not in WAVEFORMS]
    if bad or not names:
        return f"waveform must be one of {list(WAVEFORMS)} or a list of them, got {value!r}"
    if len(set(names)) != len(names):
        return f"waveform list has duplicates: {value!r}"
    return None
