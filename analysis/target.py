"""Everything read from a target at once: f0, partials, envelope segments, noisiness, vibrato, tremolo.

    from analysis.target import analyse
    a = analyse(audio, 16000, note)        # note: anything with .pitch (MIDI), or None
    a.f0_hz, a.partials.harmonics, a.envelope.attack, a.envelope.sustains, a.vibrato

Reusable by any solver (``solvers/fm_match.py`` starts from it) and by the
harness (the note-off of ``synth.hold=auto``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.envelope import EnvelopeSegments, segment
from analysis.modulation import Tremolo, Vibrato, find_tremolo, find_vibrato
from analysis.partials import Partials, analyse_partials
from analysis.pitch import estimate_f0, hz_to_midi, midi_to_hz


@dataclass
class TargetAnalysis:
    """What :func:`analyse` read from one target.

    ``f0_hz`` / ``midi`` (fractional): the note's fundamental (None when unpitched;
    then ``partials`` is None). ``f0_source``: how it was found (see
    :class:`analysis.pitch.F0Estimate`). ``rms_db``: level of the sounding part,
    dB re full scale. ``noisiness``: noise-to-harmonic ratio in dB (None when unpitched).
    ``vibrato``: the body's periodic pitch modulation (None when there is none or it is unpitched).
    ``tremolo``: the body's periodic level modulation (None when there is none).
    """

    sample_rate: int
    duration: float
    f0_hz: float | None
    midi: float | None
    f0_source: str
    envelope: EnvelopeSegments
    partials: Partials | None
    rms_db: float
    vibrato: Vibrato | None = None
    tremolo: Tremolo | None = None

    @property
    def noisiness(self) -> float | None:
        return None if self.partials is None else self.partials.noisiness

    def as_log(self) -> dict[str, Any]:
        """Scalars to log beside a target."""
        out: dict[str, Any] = {
            "f0_hz": None if self.f0_hz is None else round(self.f0_hz, 3),
            "f0_midi": None if self.midi is None else round(self.midi, 4),
            "f0_source": self.f0_source,
            "noisiness_db": None if self.noisiness is None else round(self.noisiness, 2),
            "rms_db": round(self.rms_db, 2),
        }
        out.update(self.envelope.as_log())
        for modulation in (self.vibrato, self.tremolo):
            if modulation is not None:
                out.update(modulation.as_log())
        return out


def analyse(audio: Any, sample_rate: int, note: Any = None, f0_hz: float | None = None) -> TargetAnalysis:
    """Analyse mono ``audio [T]`` (numpy or torch) at ``sample_rate`` Hz.

    ``note``: the pitch the dataset says was played (``.pitch``, MIDI), a hint that
    fixes the octave; ``f0_hz``: a known f0 that skips the estimate (e.g. a test tone).
    """
    x = np.asarray(audio.detach().cpu().numpy() if hasattr(audio, "detach") else audio, dtype=np.float64)
    x = x.reshape(-1)
    env = segment(x, sample_rate)
    if f0_hz is not None:
        hz, source = float(f0_hz), "given"
    else:
        hint = None if note is None else float(note.pitch)
        est = estimate_f0(x.astype(np.float32), sample_rate, hint_midi=hint)
        hz, source = est.hz, est.backend
    partials = None if hz is None else analyse_partials(x, sample_rate, hz)
    vibrato = None
    if partials is not None:
        vibrato = find_vibrato(x, sample_rate, hz, partials.harmonics, env.attack_end, env.note_off)
    tremolo = find_tremolo(x, sample_rate, env.attack_end, env.note_off)
    sr = sample_rate
    body = x[int(env.attack_end * sr) : max(int(env.note_off * sr), int(env.attack_end * sr) + 1)]
    rms = float(np.sqrt(np.mean(body**2))) if len(body) else 0.0
    return TargetAnalysis(
        sample_rate=sample_rate,
        duration=len(x) / sample_rate,
        f0_hz=hz,
        midi=None if hz is None else hz_to_midi(hz),
        f0_source=source,
        envelope=env,
        partials=partials,
        rms_db=20.0 * float(np.log10(max(rms, 1e-10))),
        vibrato=vibrato,
        tremolo=tremolo,
    )


__all__ = ["TargetAnalysis", "analyse", "midi_to_hz"]
