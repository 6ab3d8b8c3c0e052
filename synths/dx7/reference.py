"""Dexed, the reference DX7 engine, through dexed-py (optional extra ``dexed``; GPL-3).

dexed-py wraps Dexed's C++ engine (msfa). It is imported lazily, only where a
voice is rendered with it, so soundmatch itself runs without it; a missing
install is a :class:`soundmatch.errors.UserError` that says how to add it.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from soundmatch.errors import UserError
from synths.base import num_samples
from synths.dx7.sysex import voice_values
from synths.dx7.voice import Voice

INSTALL_HINT = "pip install 'soundmatch[dexed]' (or pip install dexed-py; GPL-3)"
OPERATORS_ON = 0x3F  # the 156th VCED byte: all six operators switched on


def load_dexed() -> ModuleType:
    """The ``dexed`` module of dexed-py, or a UserError saying how to install it."""
    try:
        import dexed
    except ImportError:
        raise UserError(
            f"this needs the Dexed engine (dexed-py), which is not installed: {INSTALL_HINT}"
        ) from None
    return dexed


def voice_to_patch(voice: Voice) -> Any:
    """``voice`` as a ``dexed.Patch`` (through the 155-byte unpacked form, values unchanged)."""
    dexed = load_dexed()
    return dexed.Patch.from_sysex(bytes([*voice_values(voice), OPERATORS_ON]))


def midi_note(pitch: float) -> int:
    """The integer MIDI note Dexed can play for ``pitch``; a UserError for fractional pitches."""
    note = round(pitch)
    if abs(pitch - note) > 1e-3 or not 0 <= note <= 127:
        raise UserError(
            f"note pitch {pitch} cannot be played by Dexed: it takes whole MIDI notes 0-127 "
            "(set note.pitch to an integer)"
        )
    return int(note)


class DexedRenderer:
    """Renders voices with one Dexed engine per sample rate (created on first use).

    Dexed resets its voice state on every render, so renders are deterministic
    and independent of what was rendered before.
    """

    def __init__(self) -> None:
        self._engines: dict[int, Any] = {}

    def _engine(self, sample_rate: int) -> Any:
        if sample_rate not in self._engines:
            self._engines[sample_rate] = load_dexed().DexedSynth(sample_rate=float(sample_rate))
        return self._engines[sample_rate]

    def render(
        self,
        voice: Voice,
        *,
        pitch: float,
        velocity: int,
        hold: float,
        duration: float,
        sample_rate: int,
    ) -> np.ndarray:
        """Mono float32 audio ``[round(sample_rate * duration)]`` of ``voice`` played for ``hold`` s.

        Args:
            pitch: MIDI note (whole numbers only).
            velocity: 1-127.
            hold: seconds from note-on to note-off (what follows is the release).
            duration: seconds rendered.
            sample_rate: Hz.
        """
        if not 1 <= velocity <= 127:
            raise UserError(f"velocity {velocity} is outside 1-127")
        if not (math.isfinite(hold) and math.isfinite(duration)) or hold < 0 or duration <= 0:
            raise UserError(f"hold {hold} s and duration {duration} s must be finite, duration > 0")
        engine = self._engine(int(sample_rate))
        engine.load_patch(voice_to_patch(voice))
        audio = np.asarray(engine.render(midi_note(pitch), int(velocity), float(hold), float(duration)),
                           dtype=np.float32)  # fmt: skip
        out = np.zeros(num_samples(int(sample_rate), duration), dtype=np.float32)
        out[: min(len(out), len(audio))] = audio[: len(out)]  # Dexed may round the length differently
        return out

    def __getstate__(self) -> dict:
        return {}  # engines are rebuilt on demand after pickling (e.g. in worker processes)

    def __setstate__(self, state: dict) -> None:
        self._engines = {}
