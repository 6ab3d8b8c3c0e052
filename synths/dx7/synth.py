"""Synth ``dx7``: the six-operator DX7 engine with its parameters in the unit cube.

Parameter names and the unit <-> DX7 value mapping (every mapping is linear,
``value = low + (high - low) * u``, so ``u = (value - low) / (high - low)``):

==========================  =========  ============================================
name                        DX7 value  notes
==========================  =========  ============================================
``op{k}_rate{i}``           0..99      EG rate Ri of operator k (k = 1..6, i = 1..4)
``op{k}_level{i}``          0..99      EG level Li
``op{k}_output``            0..99      output level
``op{k}_coarse``            0..31      frequency coarse (ratio 0 = x0.5)
``op{k}_fine``              0..99      frequency fine
``op{k}_detune``            0..14      7 = centre
``op{k}_mode``              choice     ratio / fixed (``fixed_frequency=true``)
``op{k}_velocity``          0..7       key velocity sensitivity (``keyboard=true``)
``op{k}_rate_scaling``      0..7       keyboard rate scaling (``keyboard=true``)
``op{k}_ams``               0..3       amp-mod sensitivity (``lfo=true``)
``feedback``                0..7       unless fixed by the ``feedback`` option
``algorithm``               choice     1..32, only when ``algorithm=null``
``pitch_rate{i}``           0..99      pitch EG (``pitch_eg=true``)
``pitch_level{i}``          0..99      50 = no shift
``lfo_speed`` ...           0..99      ``lfo_speed, lfo_delay, lfo_pmd, lfo_amd`` (``lfo=true``)
``lfo_wave``                choice     triangle, saw_down, saw_up, square, sine, sample_hold
``pitch_mod_sens``          0..7
==========================  =========  ============================================

Choices split the unit interval into equal cells (choice i <-> u in [i/n, (i+1)/n)).
``unit_to_voice`` rounds every value to the nearest DX7 integer; with
``quantize=true`` (the default) the renderer rounds the same way (straight-through
gradients), so what a solver hears is exactly the patch that is exported.
Everything the spec does not search (keyboard level scaling, transpose, the
DDX7 presets' fixed frequencies ...) comes from the synth's base voice.
"""

from __future__ import annotations

import copy
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from soundmatch.errors import UserError
from synths.base import (
    Note,
    Param,
    ParamSpec,
    ReferenceRender,
    Synth,
    note_off_time,
    num_samples,
    synth_registry,
)
from synths.dx7 import engine, frames
from synths.dx7.algorithms import NUM_ALGORITHMS, algorithm
from synths.dx7.lfo import WAVES
from synths.dx7.reference import INSTALL_HINT, DexedRenderer
from synths.dx7.voice import Voice
from synths.harmonic_noise import apply_reverb, control_hop

# voice fields that are choices rather than numbers
_CHOICES = {"mode": ("ratio", "fixed"), "lfo_wave": WAVES}


def _op_params(k: int, fixed_frequency: bool, keyboard: bool, lfo: bool, ratios: bool) -> list[Param]:
    p = [Param(f"op{k}_rate{i}", 0, 99, doc=f"OP{k} EG rate {i}") for i in range(1, 5)]
    p += [Param(f"op{k}_level{i}", 0, 99, doc=f"OP{k} EG level {i}") for i in range(1, 5)]
    p.append(Param(f"op{k}_output", 0, 99, doc=f"OP{k} output level (0.75 dB steps above 20)"))
    if ratios:
        p += [
            Param(f"op{k}_coarse", 0, 31, doc=f"OP{k} frequency coarse (ratio; 0 = x0.5)"),
            Param(f"op{k}_fine", 0, 99, doc=f"OP{k} frequency fine (ratio x (1 + fine/100))"),
            Param(f"op{k}_detune", 0, 14, doc=f"OP{k} detune, 7 = centre"),
        ]
        if fixed_frequency:
            p.append(Param(f"op{k}_mode", choices=_CHOICES["mode"], doc=f"OP{k} oscillator mode"))
    if keyboard:
        p.append(Param(f"op{k}_velocity", 0, 7, doc=f"OP{k} key velocity sensitivity"))
        p.append(Param(f"op{k}_rate_scaling", 0, 7, doc=f"OP{k} keyboard rate scaling"))
    if lfo:
        p.append(Param(f"op{k}_ams", 0, 3, doc=f"OP{k} LFO amp-mod sensitivity"))
    return p


# spec name suffix -> OperatorData field
_OP_FIELD = {
    "output": "output_level", "coarse": "coarse", "fine": "fine", "detune": "detune", "mode": "mode",
    "velocity": "velocity_sens", "rate_scaling": "rate_scaling", "ams": "amp_mod_sens",
}  # fmt: skip
# OperatorData field -> engine value name (per-operator [B, 6] tensors)
_ENGINE_OP = {
    "output_level": "output_level", "coarse": "coarse", "fine": "fine", "detune": "detune", "mode": "mode",
    "velocity_sens": "velocity_sens", "rate_scaling": "rate_scaling", "amp_mod_sens": "amp_mod_sens",
    "break_point": "break_point", "left_depth": "left_depth", "right_depth": "right_depth",
    "left_curve": "left_curve", "right_curve": "right_curve",
}  # fmt: skip
_ENGINE_GLOBAL = (
    "feedback", "lfo_speed", "lfo_delay", "lfo_pmd", "lfo_amd", "lfo_wave", "lfo_sync", "pitch_mod_sens",
    "transpose",
)  # fmt: skip


def ratio_to_coarse_fine(ratio: float) -> tuple[int, int]:
    """The DX7 coarse/fine (ratio mode) nearest to a frequency ratio (exact where one exists)."""
    best = (1, 0)
    best_err = float("inf")
    for coarse in range(31, -1, -1):  # ties go to the larger coarse (the smaller fine)
        mult = 0.5 if coarse == 0 else float(coarse)
        fine = min(99, max(0, round((ratio / mult - 1.0) * 100.0)))
        err = abs(mult * (1 + fine / 100.0) - ratio)
        if err < best_err - 1e-12:
            best, best_err = (coarse, fine), err
    return best


REFERENCE_RATE = 48000  # Hz: the rate the reference check plays a voice at (Dexed's own)


def decimate(audio: Tensor, factor: int, length: int) -> Tensor:
    """``audio [B, T]`` rendered at ``factor`` times a rate, brought to that rate: ``[B, length]``.

    An ideal low-pass at the lower rate's Nyquist by FFT (the clip zero-padded by a quarter so that
    its end does not wrap onto its start), then every ``factor``-th sample; differentiable. A
    factor of 1 returns ``audio`` as it is.
    """
    if factor == 1:
        return audio
    padded = audio.shape[-1] + audio.shape[-1] // 4
    padded += (-padded) % factor
    spectrum = torch.fft.rfft(audio, n=padded)
    keep = padded // factor // 2 + 1
    low = torch.fft.irfft(spectrum[..., :keep], n=padded // factor) / factor
    return low[..., :length]


@synth_registry.register("dx7")
@dataclass
class DX7(Synth):
    """The DX7 as a differentiable synth.

    Args:
        algorithm: 1..32 (fixed per task), or None to search it as a categorical parameter.
        hold: seconds from note-on to note-off; None -> 75% of the clip.
        quantize: render the nearest DX7 integer values (straight-through gradients).
        feedback: fix the feedback (0..7) instead of searching it.
        ratios: fix OP1..OP6 to these frequency ratios (nearest coarse/fine) instead of searching them.
        pitch_eg: search the pitch EG.
        lfo: search the LFO (speed, delay, depths, wave, sensitivities).
        fixed_frequency: search each operator's ratio/fixed mode.
        keyboard: search velocity sensitivity and keyboard rate scaling (for one note
            they only shift levels and rates, so they are off by default).
        oversample: render at this many times the run's rate, then low-pass at its Nyquist and
            decimate (:func:`decimate`), so FM sidebands above it are removed instead of folding
            back (as Dexed at 48 kHz plays them); 1 renders at the run's rate. Costs that many
            times the render time.
    """

    algorithm: int | None = 5
    hold: float | None = None
    quantize: bool = True
    feedback: int | None = None
    ratios: list[float] | None = None
    pitch_eg: bool = True
    lfo: bool = True
    fixed_frequency: bool = True
    keyboard: bool = False
    oversample: int = 1
    base: Voice = field(default_factory=Voice)

    name = "dx7"
    whole_notes = True
    # Dexed's resolution (integer steps, 2**-10 sines, 2**-12 output) with straight-through gradients
    exact_gradients = False

    def __post_init__(self) -> None:
        if self.algorithm is not None and not 1 <= int(self.algorithm) <= NUM_ALGORITHMS:
            raise UserError(
                f"synth.algorithm={self.algorithm}: use 1..32 (as on the DX7) or null to search it"
            )
        if self.feedback is not None and not 0 <= int(self.feedback) <= 7:
            raise UserError(f"synth.feedback={self.feedback}: use 0..7 or null to search it")
        if (
            isinstance(self.oversample, bool)
            or not isinstance(self.oversample, int)
            or not 1 <= self.oversample <= 8
        ):
            raise UserError(f"synth.oversample={self.oversample}: a whole factor 1..8 (1: no oversampling)")
        if self.ratios is not None and len(self.ratios) != 6:
            raise UserError(f"synth.ratios needs six ratios (OP1..OP6), got {list(self.ratios)}")
        base = self.base
        if self.algorithm is not None:
            base.algorithm = int(self.algorithm) - 1
        if self.feedback is not None:
            base.feedback = int(self.feedback)
        if self.ratios is not None:
            for op, ratio in zip(base.ops, self.ratios, strict=True):
                op.mode, op.detune = 0, 7
                op.coarse, op.fine = ratio_to_coarse_fine(float(ratio))
        params: list[Param] = []
        for k in range(1, 7):
            params += _op_params(k, self.fixed_frequency, self.keyboard, self.lfo, self.ratios is None)
        if self.feedback is None:
            params.append(Param("feedback", 0, 7, doc="operator feedback (0 = off)"))
        if self.algorithm is None:
            numbers = tuple(range(1, NUM_ALGORITHMS + 1))
            params.append(Param("algorithm", choices=numbers, doc="DX7 algorithm"))
        if self.pitch_eg:
            params += [Param(f"pitch_rate{i}", 0, 99, doc=f"pitch EG rate {i}") for i in range(1, 5)]
            params += [Param(f"pitch_level{i}", 0, 99, doc=f"pitch EG level {i}") for i in range(1, 5)]
        if self.lfo:
            params += [
                Param("lfo_speed", 0, 99, doc="LFO speed (0.065-51 Hz)"),
                Param("lfo_delay", 0, 99, doc="LFO delay"),
                Param("lfo_pmd", 0, 99, doc="LFO pitch-mod depth"),
                Param("lfo_amd", 0, 99, doc="LFO amp-mod depth"),
                Param("lfo_wave", choices=WAVES, doc="LFO wave"),
                Param("pitch_mod_sens", 0, 7, doc="pitch-mod sensitivity"),
            ]
        self._spec = ParamSpec(params)

    @property
    def spec(self) -> ParamSpec:
        return self._spec

    # ---- unit cube <-> DX7 values -------------------------------------------------

    def _physical(self, params: Tensor) -> dict[str, Tensor]:
        """Unit ``[B, D]`` -> DX7 values per spec name ``{name: [B]}`` (choices as float indices)."""
        out: dict[str, Tensor] = {}
        for i, p in enumerate(self.spec.params):
            u = params[..., i]
            if p.categorical:
                out[p.name] = p.to_physical(u.detach()).to(params.dtype)
            else:
                v = p.to_physical(u.clamp(0.0, 1.0))
                out[p.name] = v + (v.round() - v).detach() if self.quantize else v
        if "algorithm" in out:
            out["algorithm"] = out["algorithm"] + 1.0  # choice index -> algorithm number
        return out

    def values(self, params: Tensor) -> dict[str, Tensor]:
        """Engine values (:func:`synths.dx7.engine.render`) for unit parameters ``[B, D]``."""
        phys = self._physical(params)
        batch = params.shape[0]
        vals = _voice_values([self.base], params.dtype, params.device)
        vals = {k: v.expand(batch, *v.shape[1:]) for k, v in vals.items()}
        ops = {k: list(vals[k].unbind(1)) for k in (*_ENGINE_OP.values(), "rates", "levels")}
        rates = [list(r.unbind(-1)) for r in ops["rates"]]
        levels = [list(r.unbind(-1)) for r in ops["levels"]]
        for name, v in phys.items():
            if name.startswith("op"):
                k, rest = int(name[2]) - 1, name[4:]
                if rest.startswith("rate") and rest[4:].isdigit():
                    rates[k][int(rest[4:]) - 1] = v
                elif rest.startswith("level"):
                    levels[k][int(rest[5:]) - 1] = v
                else:
                    ops[_ENGINE_OP[_OP_FIELD[rest]]][k] = v
            elif name.startswith("pitch_rate") or name.startswith("pitch_level"):
                key = "pitch_rates" if name.startswith("pitch_rate") else "pitch_levels"
                cols = list(vals[key].unbind(-1))
                cols[int(name[-1]) - 1] = v
                vals[key] = torch.stack(cols, -1)
            else:
                vals[name] = v
        for key, cols in ops.items():
            if key not in ("rates", "levels"):
                vals[key] = torch.stack(cols, 1)
        vals["rates"] = torch.stack([torch.stack(r, -1) for r in rates], 1)
        vals["levels"] = torch.stack([torch.stack(r, -1) for r in levels], 1)
        return vals

    def unit_to_voice(self, x: Tensor) -> Voice:
        """Unit parameters ``[D]`` -> the nearest DX7 voice (unsearched fields from the base voice)."""
        phys = self._physical(x.detach().reshape(1, -1).float())
        voice = _copy_voice(self.base)
        for name, v in phys.items():
            value = int(round(float(v[0])))
            if name.startswith("op"):
                op, rest = voice.ops[int(name[2]) - 1], name[4:]
                if rest.startswith("rate") and rest[4:].isdigit():
                    op.rates[int(rest[4:]) - 1] = value
                elif rest.startswith("level"):
                    op.levels[int(rest[5:]) - 1] = value
                else:
                    setattr(op, _OP_FIELD[rest], value)
            elif name.startswith("pitch_rate"):
                voice.pitch_rates[int(name[-1]) - 1] = value
            elif name.startswith("pitch_level"):
                voice.pitch_levels[int(name[-1]) - 1] = value
            elif name == "algorithm":
                voice.algorithm = value - 1
            else:
                setattr(voice, name, value)
        voice.name = "SOUNDMATCH"
        return voice

    def voice_to_unit(self, voice: Voice) -> Tensor:
        """A DX7 voice -> unit parameters ``[D]`` (the searched fields; the inverse of unit_to_voice)."""
        values: dict[str, float] = {}
        for name in self.spec.names:
            if name.startswith("op"):
                op, rest = voice.ops[int(name[2]) - 1], name[4:]
                if rest.startswith("rate") and rest[4:].isdigit():
                    values[name] = op.rates[int(rest[4:]) - 1]
                elif rest.startswith("level"):
                    values[name] = op.levels[int(rest[5:]) - 1]
                else:
                    values[name] = getattr(op, _OP_FIELD[rest])
            elif name.startswith("pitch_rate"):
                values[name] = voice.pitch_rates[int(name[-1]) - 1]
            elif name.startswith("pitch_level"):
                values[name] = voice.pitch_levels[int(name[-1]) - 1]
            elif name == "algorithm":
                values[name] = voice.algorithm  # choice index 0..31
            else:
                values[name] = getattr(voice, name)
        return self.spec.to_unit({k: float(v) for k, v in values.items()})

    def export_patch(self, x: Tensor, folder: Path) -> None:
        """Write the match as a single-voice DX7 sysex file ``folder/match.syx`` (163 bytes)."""
        from synths.dx7.sysex import encode_single

        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "match.syx").write_bytes(encode_single(self.unit_to_voice(x)))

    def reference_render(self, x: Tensor, *, note: Note | None, duration: float) -> ReferenceRender | None:
        """The voice ``match.syx`` holds for ``x [D]``, played by Dexed (dexed-py) and by this engine
        at ``REFERENCE_RATE`` (Dexed mistunes some pitches at 16 kHz), at the whole note nearest
        ``note.pitch`` (a patch is played at a key), with this synth's note-off."""
        import traceback

        if importlib.util.find_spec("dexed") is None:
            return ReferenceRender(
                "dexed", skipped=f"dexed-py is not installed ({INSTALL_HINT})", engine_missing=True
            )
        note = note or Note()
        key = round(note.pitch)
        if not 0 <= key <= 127:
            return ReferenceRender(
                "dexed", skipped=f"note {note.pitch:g} is outside the keyboard (MIDI 0-127)"
            )
        voice = self.unit_to_voice(x.detach().reshape(-1).cpu().float())
        played = Note(float(key), note.velocity)
        hold = note_off_time(duration, self.hold)
        try:
            rendered = DX7().render_voices(
                [voice], sample_rate=REFERENCE_RATE, duration=duration, note=played, hold=hold
            )
            ours = rendered[0].numpy()
            dexed = DexedRenderer().render(
                voice,
                pitch=played.pitch,
                velocity=played.velocity,
                hold=hold,
                duration=duration,
                sample_rate=REFERENCE_RATE,
            )
        except Exception as err:  # the engine's fault is the check's result, not the run's
            why = traceback.format_exception_only(err)[-1].strip()
            return ReferenceRender("dexed", skipped=f"Dexed could not render the voice: {why}")
        return ReferenceRender("dexed", REFERENCE_RATE, key, ours, dexed)

    # ---- rendering --------------------------------------------------------------------

    def render(
        self, params: Tensor, *, sample_rate: int, duration: float, note: Note | None = None
    ) -> Tensor:
        note = note or Note()
        rate = sample_rate * self.oversample
        audio = engine.render(
            self.values(params),
            pitch=note.pitch,
            velocity=note.velocity,
            sample_rate=rate,
            num_samples=num_samples(rate, duration),
            hold=note_off_time(duration, self.hold),
        )
        return decimate(audio, self.oversample, num_samples(sample_rate, duration))

    def render_controls(
        self, controls: dict[str, Tensor], *, sample_rate: int, duration: float, note: Note | None = None
    ) -> Tensor:
        """Audio ``[B, T]`` of this synth's fixed routing and ratios under per-frame controls
        ``f0_hz [B, F]`` and ``levels [B, F, 6]`` (see :mod:`synths.dx7.frames`; DDX7), then an optional
        ``reverb_ir [B, L]``; ``note`` is unused."""
        if self.algorithm is None or self.ratios is None:
            raise UserError(
                "time-varying operator levels need a fixed routing and ratios; use synth=dx7_flute, "
                "dx7_strings or dx7_brass (or set synth.algorithm and synth.ratios)"
            )
        audio = frames.render_levels(
            controls["f0_hz"],
            controls["levels"],
            ratios=[float(r) for r in self.ratios],
            algorithm_number=int(self.algorithm),
            sample_rate=sample_rate,
            num_samples=num_samples(sample_rate, duration),
            hop=control_hop(sample_rate),
        )
        if controls.get("reverb_ir") is not None:
            audio = apply_reverb(audio, controls["reverb_ir"])
        return audio

    def render_voices(
        self,
        voices: list[Voice],
        *,
        sample_rate: int,
        duration: float,
        note: Note | None = None,
        hold: float | None = None,
    ) -> Tensor:
        """Render DX7 voices exactly as given (every field, searched or not) to ``[len(voices), T]``."""
        note = note or Note()
        rate = sample_rate * self.oversample
        audio = engine.render(
            _voice_values(voices, torch.float32, None),
            pitch=note.pitch,
            velocity=note.velocity,
            sample_rate=rate,
            num_samples=num_samples(rate, duration),
            hold=note_off_time(duration, self.hold if hold is None else hold),
        )
        return decimate(audio, self.oversample, num_samples(sample_rate, duration))

    # ---- sampling ---------------------------------------------------------------------

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """Random plausible patches ``[n, D]``: see :func:`sample_voice`."""
        rows = [self.voice_to_unit(sample_voice(generator, self)) for _ in range(n)]
        return torch.stack(rows)


def _copy_voice(voice: Voice) -> Voice:
    return copy.deepcopy(voice)


def _voice_values(voices: list[Voice], dtype: torch.dtype, device) -> dict[str, Tensor]:
    """Engine values ``{name: [B, ...]}`` of DX7 voices, every field as it is."""

    def t(rows) -> Tensor:
        return torch.tensor(rows, dtype=dtype, device=device)

    vals = {key: t([[getattr(op, f) for op in v.ops] for v in voices]) for f, key in _ENGINE_OP.items()}
    vals["rates"] = t([[op.rates for op in v.ops] for v in voices])
    vals["levels"] = t([[op.levels for op in v.ops] for v in voices])
    vals["pitch_rates"] = t([v.pitch_rates for v in voices])
    vals["pitch_levels"] = t([v.pitch_levels for v in voices])
    vals["algorithm"] = t([v.algorithm + 1 for v in voices])
    for key in _ENGINE_GLOBAL:
        vals[key] = t([getattr(v, key) for v in voices])
    return vals


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen))


def _randint(gen: torch.Generator, low: int, high: int) -> int:
    """Integer in [low, high]."""
    return int(torch.randint(low, high + 1, (), generator=gen))


def sample_voice(gen: torch.Generator, synth: DX7) -> Voice:
    """A random, musically plausible voice for ``synth`` (fields it does not search stay at its base).

    Carriers get high output levels (one of them 90-99 with L1 >= 92 and L3 within
    10 steps of L1, so the patch is audible: RMS above -30 dBFS) and envelopes
    whose first three segments are fast enough (R1 >= 55, R2, R3 >= 45) to reach
    the sustain level (L3 within 25 steps of L1) inside a fraction of a second;
    modulators get output levels 55-88 (peak indices about 0.3 to 4.5 rad) and
    mostly small ratios; pitch EG and LFO stay subtle in most patches.
    """
    voice = _copy_voice(synth.base)
    if synth.algorithm is None:
        voice.algorithm = _randint(gen, 0, NUM_ALGORITHMS - 1)
    algo = algorithm(voice.algorithm + 1)
    loud = algo.carriers[_randint(gen, 0, len(algo.carriers) - 1)]
    for k, op in enumerate(voice.ops, start=1):
        carrier = k in algo.carriers
        if k == loud:
            op.output_level = _randint(gen, 90, 99)
        elif carrier:
            op.output_level = _randint(gen, 50, 95)
        else:
            op.output_level = _randint(gen, 55, 88)
        l1 = _randint(gen, 92, 99) if k == loud else _randint(gen, 80, 99)
        l3 = max(0, l1 - _randint(gen, 0, 10 if k == loud else 25))
        l2 = _randint(gen, min(l1, l3), max(l1, l3))
        op.levels = [l1, l2, l3, 0]
        op.rates = [_randint(gen, lo, hi) for lo, hi in ((55, 99), (45, 95), (45, 95), (35, 85))]
        if synth.ratios is None:
            if carrier:
                op.coarse = [1, 1, 1, 2, 0, 3][_randint(gen, 0, 5)]
            else:
                op.coarse = _randint(gen, 1, 4) if _uniform(gen, 0, 1) < 0.8 else _randint(gen, 5, 14)
            op.fine = 0 if _uniform(gen, 0, 1) < 0.8 else _randint(gen, 0, 99)
            op.detune = _randint(gen, 4, 10)
            fixed = synth.fixed_frequency and not carrier and _uniform(gen, 0, 1) < 0.1
            op.mode = 1 if fixed else 0
            if fixed:
                op.coarse, op.fine = _randint(gen, 1, 3), _randint(gen, 0, 99)
        if synth.keyboard:
            op.velocity_sens = _randint(gen, 0, 7)
            op.rate_scaling = _randint(gen, 0, 7)
        if synth.lfo:
            op.amp_mod_sens = _randint(gen, 0, 3) if _uniform(gen, 0, 1) < 0.2 else 0
    if synth.feedback is None:
        voice.feedback = _randint(gen, 0, 6)
    if synth.pitch_eg:
        if _uniform(gen, 0, 1) < 0.25:
            voice.pitch_levels = [_randint(gen, 40, 60), _randint(gen, 45, 55), 50, 50]
            voice.pitch_rates = [_randint(gen, 50, 99), _randint(gen, 50, 99), _randint(gen, 50, 99), 99]
        else:
            voice.pitch_levels, voice.pitch_rates = [50, 50, 50, 50], [99, 99, 99, 99]
    if synth.lfo:
        voice.lfo_speed, voice.lfo_delay = _randint(gen, 20, 50), _randint(gen, 0, 60)
        voice.lfo_wave = _randint(gen, 0, 5)
        vibrato = _uniform(gen, 0, 1) < 0.25
        voice.lfo_pmd = _randint(gen, 3, 15) if vibrato else 0
        voice.pitch_mod_sens = _randint(gen, 1, 4) if vibrato else 0
        voice.lfo_amd = _randint(gen, 5, 30) if any(op.amp_mod_sens for op in voice.ops) else 0
    return voice
