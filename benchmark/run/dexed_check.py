"""The sound designer's check of a DX7 match: ``match.syx`` played by Dexed against our render.

The voice a DX7-family run exports is rendered by Dexed (dexed-py) and by our
engine at 48 kHz (Dexed mistunes some pitches at 16 kHz), at the target's note
and velocity, with the note-off the run played (``synth.hold``, per target under
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
from typing import Any

import torch

from metrics.lsd import log_spectral_distance, range_limited_lsd
from synths.base import Note, note_off_time

CHECK_RATE = 48000  # Hz


def dexed_available() -> bool:
    return importlib.util.find_spec("dexed") is not None


def dexed_lsd(synth: Any, x: torch.Tensor, note: Note | None, duration: float) -> dict[str, float]:
    """``{"dexed_lsd": .., "dexed_lsd80": ..}`` (dB) between Dexed's and our render of the voice
    ``synth`` exports for ``x``; empty when the synth is not our DX7 engine (``dexed`` itself,
    other synths) or dexed-py is absent."""
    if getattr(synth, "name", "") != "dx7" or not hasattr(synth, "unit_to_voice") or not dexed_available():
        return {}
    from synths.dexed_synth import Dexed
    from synths.dx7.synth import DX7

    voice = synth.unit_to_voice(x.detach().reshape(-1).cpu().float())
    note = note or Note()
    hold = note_off_time(duration, getattr(synth, "hold", None))
    kwargs = dict(sample_rate=CHECK_RATE, duration=duration, note=note, hold=hold)
    ours = DX7().render_voices([voice], **kwargs)[0].numpy()
    ref = Dexed().render_voices([voice], **kwargs)[0].numpy()
    return {"dexed_lsd": range_limited_lsd(ours, ref), "dexed_lsd80": log_spectral_distance(ours, ref)}
