"""The sound designer's check of a DX7 match: ``match.syx`` played by Dexed against our render.

The voice a DX7-family run exports is rendered by Dexed (dexed-py) and by our
engine at 48 kHz (Dexed mistunes some pitches at 16 kHz), at the whole note the
patch will be played at (the nearest to the target's) and velocity, with the
note-off the run played (``synth.hold``, per target under
``hold=auto``). Logged when dexed-py is installed, both in dB:

- ``dexed_lsd``: LSD over the top 60 dB of each of Dexed's frames
  (:func:`metrics.lsd.range_limited_lsd`), what a listener can hear;
- ``dexed_lsd80``: ``lsd`` floored 80 dB under Dexed's loudest bin of the clip.
  It also counts the engines' noise floors between the partials, 60-80 dB
  down: Dexed's fixed-point engine has one near -67 dB in strongly modulated
  voices, where the partials themselves agree within 0.05 dB.
"""

from __future__ import annotations

import importlib.util
import traceback
from dataclasses import dataclass, field
from typing import Any

import torch

from metrics.lsd import log_spectral_distance, range_limited_lsd
from synths.base import Note, note_off_time
from synths.dx7.reference import INSTALL_HINT

CHECK_RATE = 48000  # Hz


def dexed_available() -> bool:
    return importlib.util.find_spec("dexed") is not None


@dataclass
class DexedCheck:
    """The check's figures (dB; empty when it did not run) and, when it did not run, why (``skipped``)."""

    values: dict[str, float] = field(default_factory=dict)
    skipped: str | None = None
    note: int | None = None  # the MIDI note it ran at

    def tags(self) -> dict[str, str]:
        """The target run's tag ``soundmatch.dexed_check``: ``ran at MIDI n`` or ``skipped: reason``."""
        if self.skipped is None and not self.values:
            return {}
        return {CHECK_TAG: f"skipped: {self.skipped}" if self.skipped else f"ran at MIDI {self.note}"}


CHECK_TAG = "soundmatch.dexed_check"


def dexed_check(synth: Any, x: torch.Tensor, note: Note | None, duration: float) -> DexedCheck:
    """Dexed's and our render of the voice ``synth`` exports for ``x``, at the whole note it will be
    played at (the nearest to ``note.pitch``: a patch is played at a key). Not run for synths other
    than our DX7 engine (``dexed`` itself, other synths). A check that cannot run (dexed-py absent,
    a note outside 0-127, Dexed failing) is ``skipped`` with the reason; it never fails the run."""
    if getattr(synth, "name", "") != "dx7" or not hasattr(synth, "unit_to_voice"):
        return DexedCheck()
    if not dexed_available():
        return DexedCheck(skipped=f"dexed-py is not installed ({INSTALL_HINT})")
    note = note or Note()
    key = round(note.pitch)
    if not 0 <= key <= 127:
        return DexedCheck(skipped=f"note {note.pitch:g} is outside the keyboard (MIDI 0-127)")
    from synths.dexed_synth import Dexed
    from synths.dx7.synth import DX7

    played = Note(float(key), note.velocity)
    voice = synth.unit_to_voice(x.detach().reshape(-1).cpu().float())
    hold = note_off_time(duration, getattr(synth, "hold", None))
    kwargs = dict(sample_rate=CHECK_RATE, duration=duration, note=played, hold=hold)
    try:
        ours = DX7().render_voices([voice], **kwargs)[0].numpy()
        ref = Dexed().render_voices([voice], **kwargs)[0].numpy()
    except Exception as err:  # the engine's fault is the check's result, not the run's
        why = traceback.format_exception_only(err)[-1].strip()
        return DexedCheck(skipped=f"Dexed could not render the voice: {why}")
    values = {"dexed_lsd": range_limited_lsd(ours, ref), "dexed_lsd80": log_spectral_distance(ours, ref)}
    return DexedCheck(values, note=key)
