"""Playing DX7 voices with DX7-family synths (``dx7``, its fixed variants, ``dexed``).

A DX7-family synth maps a :class:`synths.dx7.voice.Voice` into its unit cube
with ``voice_to_unit`` (and back with ``unit_to_voice``) and plays voices exactly
as given, every field, with ``render_voices``. Its algorithm and hold time are
configuration, so :func:`synth_for_voice` builds the synth for a voice.
"""

from __future__ import annotations

import numpy as np
import torch

from soundmatch.errors import UserError
from synths.base import Note, Synth, synth_registry
from synths.dx7.voice import Voice

FAMILY_METHODS = ("voice_to_unit", "unit_to_voice", "render_voices")


def is_dx7_family(synth: object) -> bool:
    """True for synths that take DX7 voices (they have every method of FAMILY_METHODS)."""
    return all(callable(getattr(synth, m, None)) for m in FAMILY_METHODS)


def dx7_family_names() -> list[str]:
    """Registered synth names whose class takes DX7 voices."""
    return [n for n in synth_registry.names() if is_dx7_family(synth_registry.get(n))]


def require_dx7_family(synth: object, name: str, what: str) -> None:
    """A UserError unless ``synth`` takes DX7 voices; ``what`` says what needed it."""
    if not is_dx7_family(synth):
        raise UserError(
            f"{what} needs a DX7-family synth, got synth '{name}'; "
            f"use one of: {', '.join(dx7_family_names())}"
        )


def synth_for_voice(name: str, voice: Voice, hold: float) -> Synth:
    """Synth ``name`` configured to play ``voice``: its algorithm, note-off after ``hold`` s."""
    require_dx7_family(synth_registry.get(name), name, "playing a DX7 voice")
    return synth_registry.create(name, algorithm=voice.algorithm + 1, hold=hold)


def render_voice(synth: Synth, voice: Voice, *, note: Note, sample_rate: int, duration: float) -> np.ndarray:
    """Mono float32 audio ``[round(sample_rate * duration)]`` of ``voice`` (every field) by ``synth``."""
    with torch.no_grad():
        audio = synth.render_voices(  # type: ignore[attr-defined]
            [voice], sample_rate=sample_rate, duration=duration, note=note
        )
    return audio[0].detach().cpu().numpy().astype(np.float32)
