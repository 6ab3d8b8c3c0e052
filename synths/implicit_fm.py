"""The implicit neural FM synth (Neural Audio Synthesis Hackathon 2021), a SIREN-like net.

127 carriers and 127 modulators (``n_nodes``), node k at MIDI pitch k (8.66 Hz ..
12543.9 Hz) plus a learnt detune; global phase ``phi = 2 pi sigmoid(p)``::

    m(t) = sum_k softmax(w_m)_k E^m_k(t) cos(2 pi f^m_k t + phi)
    y(t) = g * sum_j softmax(w_c)_j E^c_j(t) sin(2 pi f^c_j t + m(t) + phi)

with a per-node envelope over normalised time ``t' = t / max(t) - 0.5``,
``s = 2 ** (10 sigmoid(a) - 2)``, ``o = tanh(b) / 2``: ``E = 1 / sqrt(1 + (s t' + s o)^2)``.

The net's weights are the synth's parameters. Each is a linear map of one unit-cube
coordinate (``raw = low + (high - low) * u``), so solvers search the cube as for any
synth, and gradient solvers may step in the raw weights (the reference recipe: Adam,
lr 0.01) through the chain rule. Two additions to the reference, both documented in
``spec``: a global gain ``g`` in dB (the reference net's output level is fixed by its
softmax, so quiet targets could not be matched), and anti-aliasing: a node at or above
the Nyquist frequency of the render is silent.

Frequencies are in Hz and envelopes in normalised time, so a match renders at any
sample rate (upsampling) and any duration (time-stretch at constant pitch), and
:meth:`ImplicitFM.render_stereo` detunes the channels: ``f (1 + d)`` left and
``f / (1 + d)`` right. The synth ignores the note (the net's nodes cover every pitch).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor

from synths.base import Note, Param, ParamSpec, Synth, num_samples, synth_registry
from synths.dsp import TWO_PI

# parameter groups, in the order of the unit cube; each but the last two has n_nodes entries
NODE_GROUPS = (
    "carrier_detune",
    "modulator_detune",
    "carrier_weight",
    "modulator_weight",
    "carrier_env_rate",
    "carrier_env_offset",
    "modulator_env_rate",
    "modulator_env_offset",
)


def midi_hz(pitch: Tensor) -> Tensor:
    """MIDI pitch (float) -> Hz, A4 = 69 = 440 Hz."""
    return 440.0 * torch.pow(2.0, (pitch - 69.0) / 12.0)


def envelope(rate: Tensor, offset: Tensor, t_norm: Tensor) -> Tensor:
    """The reference net's node envelope ``[..., T]`` from raw ``rate, offset [...]`` and ``t'[T]``."""
    s = torch.pow(2.0, 10.0 * torch.sigmoid(rate) - 2.0).unsqueeze(-1)
    o = (torch.tanh(offset) / 2.0).unsqueeze(-1)
    return torch.rsqrt(1.0 + (s * (t_norm + o)).square())


def cycles(
    freq_hz: Tensor, num: int, sample_rate: int, offset: Tensor | None = None, block: int = 128
) -> Tensor:
    """Phase in cycles ``f t + offset`` of constant frequencies ``freq_hz[..., K]``, ``[..., K, num]``.

    Sample n = q * block + r: the whole-block part ``frac(f q block / sr)`` is formed in
    float64 on the small ``[..., K, num / block]`` grid and the in-block part
    ``f r / sr`` (below ``f block / sr`` cycles) in float32, so no float64 tensor of
    full size is needed and the phase stays exact to ~1e-5 cycles at any length
    (plain float32 ``f t`` drifts by ~1e-3 cycles after a second). The gradient with
    respect to ``f`` is exactly ``t``. Values are not wrapped beyond the block part.
    """
    blocks = -(-num // block)
    q = torch.arange(blocks, device=freq_hz.device, dtype=torch.float64) * (block / sample_rate)
    r = torch.arange(block, device=freq_hz.device, dtype=torch.float32) / sample_rate
    f64 = freq_hz.to(torch.float64).unsqueeze(-1)
    coarse = torch.remainder(f64 * q, 1.0).to(torch.float32)
    if offset is not None:
        coarse = coarse + offset.unsqueeze(-1)
    fine = freq_hz.unsqueeze(-1) * r
    out = coarse.unsqueeze(-1) + fine.unsqueeze(-2)
    return out.flatten(-2)[..., :num]


@synth_registry.register("implicit_fm")
@dataclass
class ImplicitFM(Synth):
    """SIREN-like FM net: 127 carriers x 127 modulators at MIDI pitches, softmax amplitudes.

    Args:
        n_nodes: carriers (and modulators); node k (1-based) sits at MIDI pitch k.
        max_detune: how far a node's pitch may move from its MIDI note, semitones.
        weight_range: softmax logits live in [-weight_range, weight_range].
        env_range: envelope rate ``a``, offset ``b`` and phase ``p`` live in
            [-env_range, env_range].
        min_gain_db, max_gain_db: range of the output gain, dB.
    """

    n_nodes: int = 127
    max_detune: float = 1.0
    weight_range: float = 10.0
    env_range: float = 6.0
    min_gain_db: float = -60.0
    max_gain_db: float = 12.0

    name = "implicit_fm"

    def __post_init__(self) -> None:
        if not 1 <= self.n_nodes <= 127:
            raise ValueError("implicit_fm: n_nodes must be in 1..127")
        bounds = {
            "carrier_detune": (-self.max_detune, self.max_detune, "semitones"),
            "modulator_detune": (-self.max_detune, self.max_detune, "semitones"),
            "carrier_weight": (-self.weight_range, self.weight_range, "logit"),
            "modulator_weight": (-self.weight_range, self.weight_range, "logit"),
            "carrier_env_rate": (-self.env_range, self.env_range, ""),
            "carrier_env_offset": (-self.env_range, self.env_range, ""),
            "modulator_env_rate": (-self.env_range, self.env_range, ""),
            "modulator_env_offset": (-self.env_range, self.env_range, ""),
        }
        params = [
            Param(f"{group}_{k:03d}", low, high, unit=unit)
            for group, (low, high, unit) in bounds.items()
            for k in range(1, self.n_nodes + 1)
        ]
        params.append(Param("phase", -self.env_range, self.env_range, doc="phi = 2 pi sigmoid(phase)"))
        params.append(Param("gain", self.min_gain_db, self.max_gain_db, unit="dB", doc="output gain"))
        self._spec = ParamSpec(params)
        self._low = torch.tensor([p.low for p in params], dtype=torch.float32)
        self._width = torch.tensor([p.high - p.low for p in params], dtype=torch.float32)

    @property
    def spec(self) -> ParamSpec:
        return self._spec

    # --- unit cube <-> the net's raw weights (one linear map per coordinate) ----------------
    def to_raw(self, unit: Tensor) -> Tensor:
        """Unit parameters ``[B, D]`` -> the net's raw weights ``[B, D]`` (differentiable)."""
        return self._low.to(unit.device) + self._width.to(unit.device) * unit

    def to_unit(self, raw: Tensor) -> Tensor:
        """Raw weights ``[B, D]`` -> unit parameters, clamped to the cube."""
        return ((raw - self._low.to(raw.device)) / self._width.to(raw.device)).clamp(0.0, 1.0)

    @property
    def raw_width(self) -> Tensor:
        """``d raw / d unit`` per coordinate, ``[D]``."""
        return self._width.clone()

    def split(self, raw: Tensor) -> dict[str, Tensor]:
        """Raw weights ``[B, D]`` -> ``{group: [B, n_nodes]}`` plus ``phase`` and ``gain`` ``[B]``."""
        n = self.n_nodes
        out = {g: raw[:, i * n : (i + 1) * n] for i, g in enumerate(NODE_GROUPS)}
        out["phase"] = raw[:, -2]
        out["gain"] = raw[:, -1]
        return out

    def join(self, groups: dict[str, Tensor]) -> Tensor:
        """The inverse of :meth:`split`."""
        cols = [groups[g] for g in NODE_GROUPS] + [groups["phase"][:, None], groups["gain"][:, None]]
        return torch.cat(cols, dim=1)

    def node_pitches(self, device=None) -> Tensor:
        """MIDI pitches 1..n_nodes of the nodes before detune, ``[n_nodes]``."""
        return torch.arange(1, self.n_nodes + 1, dtype=torch.float32, device=device)

    # --- rendering ----------------------------------------------------------------------------
    def _render(self, params: Tensor, sample_rate: int, duration: float, freq_scale: float) -> Tensor:
        g = self.split(self.to_raw(params))
        n = num_samples(sample_rate, duration)
        t = torch.arange(n, device=params.device, dtype=torch.float32)
        t_norm = t / max(n - 1, 1) - 0.5
        base = self.node_pitches(params.device)
        f_c = midi_hz(base + g["carrier_detune"]) * freq_scale
        f_m = midi_hz(base + g["modulator_detune"]) * freq_scale
        nyquist = sample_rate / 2.0
        w_c = torch.softmax(g["carrier_weight"], dim=-1) * (f_c < nyquist)
        w_m = torch.softmax(g["modulator_weight"], dim=-1) * (f_m < nyquist)
        phi_cycles = torch.sigmoid(g["phase"]).unsqueeze(-1).expand_as(f_m)  # phi / (2 pi)
        env_m = envelope(g["modulator_env_rate"], g["modulator_env_offset"], t_norm)
        env_c = envelope(g["carrier_env_rate"], g["carrier_env_offset"], t_norm)
        osc_m = torch.cos(TWO_PI * cycles(f_m, n, sample_rate, phi_cycles))
        mod = torch.einsum("bk,bkt->bt", w_m, env_m * osc_m)
        phase_c = TWO_PI * cycles(f_c, n, sample_rate, phi_cycles) + mod.unsqueeze(1)
        out = torch.einsum("bk,bkt->bt", w_c, env_c * torch.sin(phase_c))
        gain = torch.pow(10.0, g["gain"] / 20.0).unsqueeze(-1)
        return gain * out

    def render(
        self, params: Tensor, *, sample_rate: int, duration: float, note: Note | None = None
    ) -> Tensor:
        return self._render(params, sample_rate, duration, 1.0)

    def render_stereo(self, params: Tensor, *, sample_rate: int, duration: float, detune: float) -> Tensor:
        """``[B, 2, T]``: left with every frequency times ``1 + detune``, right divided by it."""
        if detune <= -1.0:
            raise ValueError("detune must be > -1")
        left = self._render(params, sample_rate, duration, 1.0 + detune)
        right = self._render(params, sample_rate, duration, 1.0 / (1.0 + detune))
        return torch.stack([left, right], dim=1)

    # --- sampling and export ------------------------------------------------------------------
    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """Harmonic tones: a fundamental at MIDI 45..75 with up to 6 harmonics on their nearest nodes.

        Harmonic h sits on node round(m + 12 log2 h) with the detune that makes it exact;
        other carriers get logits near -8, so the harmonics carry nearly all the energy.
        Modulation: one modulator at 1, 2 or 3 times the fundamental, more or less loud.
        Envelopes, phase and gain are uniform in moderate ranges.
        """
        r = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
        k = self.n_nodes
        g = {
            "carrier_detune": torch.zeros(n, k),
            "modulator_detune": torch.zeros(n, k),
            "carrier_weight": -8.0 + r(n, k),
            "modulator_weight": -4.0 + r(n, k),
            "carrier_env_rate": -3.0 + 3.5 * r(n, k),
            "carrier_env_offset": -1.5 + 3.0 * r(n, k),
            "modulator_env_rate": -3.0 + 3.5 * r(n, k),
            "modulator_env_offset": -1.5 + 3.0 * r(n, k),
            "phase": -2.0 + 4.0 * r(n),
            "gain": -12.0 + 12.0 * r(n),
        }
        fundamentals = torch.randint(45, 76, (n,), generator=generator)
        harmonics = torch.randint(1, 7, (n,), generator=generator)
        for i in range(n):
            m = float(fundamentals[i])
            for h in range(1, int(harmonics[i]) + 1):
                self._place(g, "carrier", i, m + 12.0 * math.log2(h), 4.0 - 0.8 * (h - 1) + float(r(1)))
            ratio = float(torch.randint(1, 4, (1,), generator=generator))
            self._place(g, "modulator", i, m + 12.0 * math.log2(ratio), -2.0 + 8.0 * float(r(1)))
        return self.to_unit(self.join(g))

    def _place(self, g: dict[str, Tensor], kind: str, row: int, pitch: float, logit: float) -> None:
        node = int(round(pitch))
        if 1 <= node <= self.n_nodes:
            g[f"{kind}_detune"][row, node - 1] = pitch - node
            g[f"{kind}_weight"][row, node - 1] = logit

    def export_patch(self, x: Tensor, folder: Path) -> None:
        """Write ``implicit_fm.pt``: the unit parameters, raw weights and synth options, to re-render."""
        unit = x.detach().reshape(1, -1).cpu().float()
        state = {"unit": unit[0], "raw": self.to_raw(unit)[0], "options": asdict(self)}
        torch.save(state, Path(folder) / "implicit_fm.pt")
