"""The sound designer's check of a match: the exported patch played by the instrument's reference
engine against our render (for the DX7 family: ``match.syx`` in Dexed).

A synth with an outside reference says so through :meth:`synths.base.Synth.reference_render`
(the DX7: Dexed at 48 kHz, at the whole note the patch will be played at, with the run's note-off);
this module turns the pair into figures, in dB, named for the engine (``dexed_lsd`` ...):

- ``<engine>_lsd``: LSD over the top 60 dB of each of the reference's frames
  (:func:`metrics.lsd.range_limited_lsd`), what a listener can hear;
- ``<engine>_lsd80``: ``lsd`` floored 80 dB under the reference's loudest bin of the clip. It also
  counts the engines' noise floors between the partials, 60-80 dB down: Dexed's fixed-point engine
  has one near -67 dB in strongly modulated voices, where the partials themselves agree within
  0.05 dB.

A check that cannot run (the engine not installed, a note it cannot play, the engine failing) is
skipped with its reason and never fails the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from metrics.lsd import log_spectral_distance, range_limited_lsd
from synths.base import Note


@dataclass
class ReferenceCheck:
    """The check's figures (dB; empty when it did not run), the engine, the MIDI note it ran at and,
    when it did not run, why (``skipped``; ``quiet``: only because the engine is not installed)."""

    engine: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    skipped: str | None = None
    note: int | None = None
    quiet: bool = False

    def tags(self) -> dict[str, str]:
        """The target run's tag ``soundmatch.<engine>_check``: ``ran at MIDI n`` or ``skipped: reason``."""
        if self.engine is None:
            return {}
        said = f"skipped: {self.skipped}" if self.skipped else f"ran at MIDI {self.note}"
        return {f"soundmatch.{self.engine}_check": said}


def reference_check(synth: Any, x: torch.Tensor, note: Note | None, duration: float) -> ReferenceCheck:
    """``synth``'s reference engine against our render of the patch of ``x [D]`` (see the module
    docstring); an empty check for synths without a reference."""
    pair = synth.reference_render(x, note=note, duration=duration)
    if pair is None:
        return ReferenceCheck()
    if pair.skipped is not None:
        return ReferenceCheck(pair.engine, skipped=pair.skipped, quiet=pair.engine_missing)
    values = {
        f"{pair.engine}_lsd": range_limited_lsd(pair.ours, pair.reference),
        f"{pair.engine}_lsd80": log_spectral_distance(pair.ours, pair.reference),
    }
    return ReferenceCheck(pair.engine, values, note=pair.note)
