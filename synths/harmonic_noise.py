"""Synth ``harmonic_noise``: DDSP's harmonic-plus-noise model (Engel et al. 2020), batched and differentiable.

The time-varying model (:func:`harmonic_noise`) takes per-frame controls:

- ``f0_hz [B, F]``: fundamental (Hz);
- ``amplitude [B, F]``: linear amplitude of the harmonic part;
- ``harmonics [B, F, K]``: harmonic distribution (non-negative; partials at or
  above Nyquist are zeroed, then it is normalised to sum 1);
- ``noise [B, F, M]``: linear magnitude response of the noise filter at M
  bands equally spaced from 0 Hz to Nyquist.

Frame i sits at sample ``i * hop``. The harmonic controls are upsampled to audio
rate by linear interpolation between frames (smooth, no zipper noise); the
phase is the running sum of ``k f0 / sr`` in float64. The noise part is uniform
white noise in [-1, 1] cut into ``hop``-sample frames, each convolved with its
frame's FIR (the zero-phase impulse response of the magnitudes, made causal and
Hann-windowed, ``2 (M - 1)`` taps) and overlap-added. An optional reverb IR is
convolved with the sum (:func:`apply_reverb`).

The synth's static contract (``render(params)``) holds every control constant at
the note's pitch: parameters ``amplitude`` (dB), ``harmonic{k}`` (0..1, relative)
and ``noise{m}`` (dB). Solvers with time-varying controls (``hpn``) use
:meth:`HarmonicNoise.render_controls`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from soundmatch.errors import UserError
from soundmatch.framing import overlap_add
from synths.base import Note, Param, ParamSpec, Synth, num_samples, synth_registry

CONTROL_HOP = 256  # samples per control frame at 16 kHz (16 ms), scaled with the rate


def control_hop(sample_rate: int) -> int:
    """Samples between control frames: 16 ms at any rate (256 at 16 kHz)."""
    return max(1, int(round(CONTROL_HOP * sample_rate / 16000)))


def upsample(frames: Tensor, hop: int, length: int) -> Tensor:
    """Linear interpolation of ``frames[B, F, C]`` (frame i at sample ``i * hop``) to ``[B, length, C]``.

    Past the last frame the value holds.
    """
    pos = torch.arange(length, device=frames.device, dtype=frames.dtype) / hop
    last = frames.shape[1] - 1
    i0 = pos.floor().clamp(max=last).long()
    i1 = (i0 + 1).clamp(max=last)
    frac = (pos - i0.to(pos.dtype)).clamp(0.0, 1.0).unsqueeze(-1)
    return frames[:, i0] * (1.0 - frac) + frames[:, i1] * frac


def harmonic_part(
    f0_hz: Tensor, amplitude: Tensor, harmonics: Tensor, sample_rate: int, num_samples: int, hop: int
) -> Tensor:
    """Audio ``[B, T]`` of the oscillator bank; see the module docstring."""
    k = torch.arange(1, harmonics.shape[-1] + 1, device=f0_hz.device, dtype=f0_hz.dtype)
    # partials at or above Nyquist are removed per frame, before normalising the distribution
    audible = (f0_hz.unsqueeze(-1) * k < sample_rate / 2).to(harmonics.dtype)
    dist = harmonics * audible
    dist = dist / dist.sum(-1, keepdim=True).clamp(min=1e-7)
    controls = torch.cat([f0_hz.unsqueeze(-1), amplitude.unsqueeze(-1), dist], dim=-1)
    up = upsample(controls, hop, num_samples)  # [B, T, 2 + K]
    f0, amp, dist_t = up[..., 0], up[..., 1], up[..., 2:]
    # float64 phase: a 4 s clip sums 64000 increments
    phase = torch.cumsum(f0.to(torch.float64) / sample_rate, dim=-1)
    phase = phase - f0[:, :1].to(torch.float64) / sample_rate  # starts at 0
    phase = (2.0 * math.pi) * torch.remainder(phase, 1.0)
    waves = torch.sin(phase.to(f0.dtype).unsqueeze(-1) * k)  # [B, T, K]
    # a partial that crosses Nyquist between frames is also silenced sample-exactly
    waves = waves * (f0.unsqueeze(-1) * k < sample_rate / 2)
    return amp * (waves * dist_t).sum(-1)


def noise_ir(magnitudes: Tensor) -> Tensor:
    """Causal, Hann-windowed FIR ``[..., 2 (M - 1)]`` from linear magnitudes ``[..., M]`` (0 Hz..Nyquist)."""
    taps = 2 * (magnitudes.shape[-1] - 1)
    # zero phase, centred on tap 0; complex of the magnitudes' own precision (float64 stays float64)
    ir = torch.fft.irfft(torch.complex(magnitudes, torch.zeros_like(magnitudes)), n=taps)
    ir = torch.roll(ir, taps // 2, dims=-1)  # centred on the middle: causal
    return ir * torch.hann_window(taps, periodic=False, device=ir.device, dtype=ir.dtype)


def noise_part(magnitudes: Tensor, num_samples: int, hop: int, generator: torch.Generator) -> Tensor:
    """Audio ``[B, T]`` of white noise filtered frame by frame by ``magnitudes[B, F, M]``.

    Every row filters the same white noise (one draw from ``generator``), so a
    row's sound depends on its magnitudes only, not on its place in the batch:
    the loss a solver sees at row i is the loss of that row rendered alone.
    """
    batch, frames, _ = magnitudes.shape
    ir = noise_ir(magnitudes)  # [B, F, L]
    taps = ir.shape[-1]
    white = torch.rand(1, frames, hop, generator=generator, dtype=torch.float32) * 2.0 - 1.0
    white = white.expand(batch, frames, hop)
    white = white.to(magnitudes.device, magnitudes.dtype)
    n_fft = 1 << (hop + taps - 1 - 1).bit_length()
    filtered = torch.fft.irfft(torch.fft.rfft(white, n_fft) * torch.fft.rfft(ir, n_fft), n_fft)
    length = (frames - 1) * hop + n_fft  # of the overlap-added noise
    out = overlap_add(filtered, hop)
    # frame i's noise starts at sample i*hop - hop/2 so that it is centred on the frame's time
    start = hop // 2 + (taps - 1) // 2  # and the FIR's half-length delay is taken out
    out = F.pad(out, (0, max(0, start + num_samples - length)))
    return out[:, start : start + num_samples]


def apply_reverb(audio: Tensor, ir: Tensor) -> Tensor:
    """``audio[B, T]`` convolved with an impulse response ``ir[L]`` or ``[B, L]``, cut to T."""
    length = audio.shape[-1]
    n_fft = 1 << (length + ir.shape[-1] - 1 - 1).bit_length()
    wet = torch.fft.irfft(torch.fft.rfft(audio, n_fft) * torch.fft.rfft(ir, n_fft), n_fft)
    return wet[..., :length]


def harmonic_noise(
    f0_hz: Tensor,
    amplitude: Tensor,
    harmonics: Tensor,
    noise: Tensor,
    *,
    sample_rate: int,
    num_samples: int,
    generator: torch.Generator,
    reverb_ir: Tensor | None = None,
) -> Tensor:
    """Audio ``[B, T]`` from per-frame controls (hop :func:`control_hop`); see the module docstring."""
    hop = control_hop(sample_rate)
    audio = harmonic_part(f0_hz, amplitude, harmonics, sample_rate, num_samples, hop)
    audio = audio + noise_part(noise, num_samples, hop, generator)
    if reverb_ir is not None:
        audio = apply_reverb(audio, reverb_ir)
    return audio


def db_to_linear(db: Tensor) -> Tensor:
    return torch.pow(10.0, db / 20.0)


@synth_registry.register("harmonic_noise")
@dataclass
class HarmonicNoise(Synth):
    """DDSP harmonic-plus-noise synth.

    Args:
        n_harmonics: partials of the oscillator bank (K).
        n_noise_bands: bands of the noise filter's magnitude response (M), 0 Hz..Nyquist.
        seed: seeds the noise (every render draws the same noise).
    """

    n_harmonics: int = 60
    n_noise_bands: int = 65
    seed: int = 0

    name = "harmonic_noise"
    bytes_per_sample = 1600  # frame-wise noise filtering: measured 1410 at batch 16 x 10 s

    def __post_init__(self) -> None:
        if self.n_harmonics < 1 or self.n_noise_bands < 2:
            raise UserError("synth.n_harmonics must be >= 1 and synth.n_noise_bands >= 2")
        params = [Param("amplitude", -60.0, 0.0, unit="dB", doc="harmonic part's amplitude")]
        params += [
            Param(f"harmonic{k}", 0.0, 1.0, doc=f"relative weight of partial {k}")
            for k in range(1, self.n_harmonics + 1)
        ]
        params += [
            Param(f"noise{m}", -80.0, 0.0, unit="dB", doc=f"noise filter gain at band {m} of 0..Nyquist")
            for m in range(1, self.n_noise_bands + 1)
        ]
        self._spec = ParamSpec(params)

    @property
    def spec(self) -> ParamSpec:
        return self._spec

    def render(
        self, params: Tensor, *, sample_rate: int, duration: float, note: Note | None = None
    ) -> Tensor:
        n = num_samples(sample_rate, duration)
        frames = n // control_hop(sample_rate) + 2
        k = self.n_harmonics
        lo_a, hi_a = -60.0, 0.0
        amp = db_to_linear(lo_a + (hi_a - lo_a) * params[:, 0])
        harm = params[:, 1 : 1 + k]
        noise = db_to_linear(-80.0 + 80.0 * params[:, 1 + k :])
        hz = (note or Note()).hz
        controls = {
            "f0_hz": params.new_full((params.shape[0], frames), hz),
            "amplitude": amp.unsqueeze(1).expand(-1, frames),
            "harmonics": harm.unsqueeze(1).expand(-1, frames, -1),
            "noise": noise.unsqueeze(1).expand(-1, frames, -1),
        }
        return self.render_controls(controls, sample_rate=sample_rate, duration=duration)

    def render_controls(
        self, controls: dict[str, Tensor], *, sample_rate: int, duration: float, note: Note | None = None
    ) -> Tensor:
        """Audio ``[B, T]`` from time-varying controls (names and shapes as :func:`harmonic_noise`'s
        arguments, plus an optional ``reverb_ir [B, L]``); ``note`` is unused (f0 is a control)."""
        gen = torch.Generator().manual_seed(self.seed)
        return harmonic_noise(
            controls["f0_hz"],
            controls["amplitude"],
            controls["harmonics"],
            controls["noise"],
            sample_rate=sample_rate,
            num_samples=num_samples(sample_rate, duration),
            generator=gen,
            reverb_ir=controls.get("reverb_ir"),
        )
