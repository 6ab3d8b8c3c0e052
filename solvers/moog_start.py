"""A moog chain's start point read from the target (``solver.x0=analysis`` for ``synth=moog``).

No render is spent; every value comes from :func:`analysis.target.analyse` and
the chain's own structure, cell by cell:

- **oscillators** that sound (those not feeding a ``mod`` port) are tuned to the
  measured f0 (``transpose`` in semitones from the note played); a categorical
  ``waveform`` takes the shape whose harmonic series is nearest the target's
  (sine: almost nothing above the fundamental; square / triangle: odd harmonics,
  triangle falling 12 dB per octave; saw: every harmonic); phase-modulation
  ``index`` 0 and optional connections off, so the start is the plain voice;
- **mixers** weigh a saw-like against a square-like source by the target's
  even-harmonic share (a saw has a quarter of its energy in even harmonics, a
  square none) and a noise source by the target's noise-to-harmonic ratio;
- **ADSR**: :meth:`analysis.envelope.EnvelopeSegments.adsr`;
- **low-pass**: cutoff and Q of the chain's biquad fitted (grid, least squares
  in dB) to the target's harmonics divided by the sources' own series, so the
  filter explains the spectral envelope the oscillators do not; envelope and
  modulation depths 0; **high-pass** at its lowest cutoff;
- **level**: the sounding oscillators' amplitude set so that the chain's output
  at the envelope's peak has the target's peak RMS (mixer averages, filter
  response and waveform power computed, not rendered).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from analysis.target import TargetAnalysis, analyse
from synths.base import Note, note_off_time
from synths.oscillators import harmonic_amplitudes

SAW_EVEN_SHARE = 0.25  # energy share of a saw's even harmonics: sum 1/(2k)^2 / sum 1/k^2
SINE_UPPER_SHARE = 0.005  # less energy above the fundamental: a sine (a triangle holds 1.5%)
ODD_ONLY_SHARE = 0.15  # even harmonics under this share of the energy above the fundamental: odd series
CUTOFFS = np.geomspace(100.0, 8000.0, 64)  # Hz, the low-pass grid (the cell's range)
QS = np.geomspace(0.5, 10.0, 16)
HARMONIC_FLOOR_DB = -60.0  # harmonics this far under the strongest are left out of the filter fit


def nearest_waveform(harmonics: np.ndarray, choices: tuple[str, ...]) -> str:
    """The waveform among ``choices`` whose series is nearest the target's ``harmonics [H]``."""
    power = np.square(harmonics)
    total = max(float(power.sum()), 1e-30)
    upper = float(power[1:].sum()) / total
    even = float(power[1::2].sum()) / total
    if "sine" in choices and upper < SINE_UPPER_SHARE:
        return "sine"
    if even < ODD_ONLY_SHARE * upper:  # a saw's even harmonics hold 64% of its upper energy
        steep = len(harmonics) > 2 and harmonics[2] < 0.2 * max(harmonics[0], 1e-30)
        for kind in ("triangle", "square") if steep else ("square", "triangle"):
            if kind in choices:
                return kind
    return "saw" if "saw" in choices else choices[0]


def biquad_lowpass_db(freqs: np.ndarray, cutoff: np.ndarray, q: np.ndarray) -> np.ndarray:
    """|H| in dB of a 2nd-order resonant low-pass (analogue prototype) at ``freqs``, broadcast."""
    x = freqs / cutoff
    return -10.0 * np.log10(np.square(1.0 - x**2) + np.square(x / q))


def fit_lowpass(freqs: np.ndarray, residual_db: np.ndarray) -> tuple[float, float]:
    """Cutoff (Hz) and Q of the low-pass whose response, up to a gain, is nearest ``residual_db``
    (the target's harmonics over the sources' series, dB) at ``freqs`` (least squares on a grid)."""
    grid = biquad_lowpass_db(freqs[None, None, :], CUTOFFS[:, None, None], QS[None, :, None])
    diff = residual_db[None, None, :] - grid
    diff = diff - diff.mean(axis=-1, keepdims=True)  # the gain is the level's business
    err = np.square(diff).mean(axis=-1)
    i, j = np.unravel_index(int(np.argmin(err)), err.shape)
    return float(CUTOFFS[i]), float(QS[j])


def _feeds_mod(chain: Any) -> set[str]:
    """Cells whose output drives some cell's ``mod`` port (modulators, LFOs), not the audio path."""
    return {s for cell in chain.cells for s in cell.module.sources.get("mod", [])}


def moog_values(synth: Any, analysis: TargetAnalysis, note: Note, duration: float) -> dict[str, Any]:
    """Physical values (by parameter name) of ``synth``'s chain read from ``analysis`` (see the module
    docstring); parameters no rule reaches are left out (the caller keeps the spec's centre)."""
    chain = synth.chain_data
    names = set(synth.spec.names)
    modulators = _feeds_mod(chain)
    values: dict[str, Any] = {}
    f0 = analysis.f0_hz or note.hz
    harmonics = np.zeros(1) if analysis.partials is None else np.asarray(analysis.partials.harmonics, float)
    if not np.any(harmonics > 0):
        harmonics = np.array([1.0])
    k = np.arange(1, len(harmonics) + 1, dtype=float)
    shapes: dict[str, str] = {}  # sounding oscillator -> waveform
    for cell in chain.cells:
        mod, name = cell.module, cell.name
        if name in modulators or mod.kind not in ("osc", "fm"):
            continue
        values[f"{name}.transpose"] = float(np.clip(12.0 * math.log2(f0 / note.hz), -36.0, 36.0))
        choices = synth.spec[f"{name}.waveform"].choices if f"{name}.waveform" in names else None
        shapes[name] = nearest_waveform(harmonics, choices) if choices else str(mod.option("waveform"))
        if choices:
            values[f"{name}.waveform"] = choices.index(shapes[name])
        if f"{name}.index" in names:
            values[f"{name}.index"] = 0.0
    for n in names:  # optional connections start off: the plain voice
        if ".from_" in n and synth.spec[n].choices:
            values[n] = 0
    # mixers: the share of each source in the sound
    power = np.square(harmonics)
    even = float(power[1::2].sum()) / max(float(power.sum()), 1e-30)
    saw_weight = float(np.clip(even / SAW_EVEN_SHARE, 0.05, 1.0))
    noisiness = analysis.noisiness
    noise_weight = 0.0 if noisiness is None else float(np.clip(10.0 ** (noisiness / 20.0), 0.0, 1.0))
    noise_cells = {c.name for c in chain.cells if c.module.kind == "noise"}
    path_gain: dict[str, float] = {}
    for cell in chain.cells:
        if cell.module.kind != "mix":
            continue
        sources = cell.module.sources.get("in", [])
        for s in sources:
            shape = shapes.get(s)
            if shape == "saw":
                g = saw_weight
            elif shape in ("square", "triangle"):
                g = 1.0 - saw_weight if "saw" in shapes.values() else 1.0
            elif s in shapes:
                g = 1.0
            else:
                g = noise_weight if s in noise_cells else 1.0
            values[f"{cell.name}.gain_{s}"] = max(g, 0.05) if s in shapes else g
            path_gain[s] = values[f"{cell.name}.gain_{s}"] / len(sources)
    # the sources' series at the output, before any filter (mixers' weights and averages)
    source = np.zeros_like(k)
    for osc, shape in shapes.items():
        source = source + path_gain.get(osc, 1.0) * harmonic_amplitudes(shape, k)
    # low-pass: what the target's spectral envelope holds that the sources do not
    cutoff, q = 8000.0, 0.707
    lowpass = [c for c in chain.cells if c.module.kind == "lowpass"]
    audible = (harmonics > harmonics.max() * 10.0 ** (HARMONIC_FLOOR_DB / 20.0)) & (source > 1e-9)
    if lowpass and audible.sum() >= 3:
        residual = 20.0 * np.log10(harmonics[audible] / source[audible])
        cutoff, q = fit_lowpass(k[audible] * f0, residual)
    for cell in lowpass:
        values[f"{cell.name}.cutoff"] = cutoff
        values[f"{cell.name}.resonance"] = q
        for extra in ("env_amount", "mod_depth"):
            if f"{cell.name}.{extra}" in names:
                values[f"{cell.name}.{extra}"] = 0.0
    for cell in chain.cells:
        if cell.module.kind == "highpass":
            values[f"{cell.name}.cutoff"] = float(synth.spec[f"{cell.name}.cutoff"].low)
            values[f"{cell.name}.resonance"] = 0.707
    # envelopes
    adsr = analysis.envelope.adsr(note_off_time(duration, getattr(synth, "hold", None)))
    for cell in chain.cells:
        if cell.module.kind == "adsr":
            values.update({f"{cell.name}.{k_}": v for k_, v in adsr.items()})
    # level: the chain's output at the envelope's peak (unit oscillator amplitudes) against the target's
    response = np.ones_like(k) if not lowpass else 10.0 ** (biquad_lowpass_db(k * f0, cutoff, q) / 20.0)
    below_nyquist = k * f0 < analysis.sample_rate / 2
    rms_at_unit = math.sqrt(float(np.sum(np.square(source * response)[below_nyquist])) / 2.0)
    target_rms = 10.0 ** (analysis.envelope.peak_db / 20.0)
    amp = target_rms / max(rms_at_unit, 1e-6)
    for osc in shapes:
        if f"{osc}.amp" in names:
            values[f"{osc}.amp"] = float(np.clip(amp, 0.01, 1.0))
    return values


def moog_start(problem: Any) -> Any:
    """The start point ``[D]`` (unit cube) of ``problem``'s moog synth; the spec's centre elsewhere."""
    import torch

    target = problem.target
    note = target.note or Note()
    analysis = analyse(target.audio, target.sample_rate, target.note)
    values = moog_values(problem.synth, analysis, note, problem.duration)
    spec = problem.spec
    x = torch.full((spec.dim,), 0.5)
    for name, value in values.items():
        param = spec[name]
        if param.choices is not None:
            x[spec.index(name)] = (int(value) + 0.5) / len(param.choices)
        else:
            low, high = float(param.low), float(param.high)
            x[spec.index(name)] = param.to_unit(float(np.clip(value, low, high)))
    return x
