"""Playing DX7 voices with DX7-family synths (``dx7``, its fixed variants, ``dexed``).

A DX7-family synth maps a :class:`synths.dx7.voice.Voice` into its unit cube
with ``voice_to_unit`` (and back with ``unit_to_voice``). Its algorithm and hold
time are configuration, not searched parameters, so playing a voice as the
voice says means building the synth for that voice: :func:`synth_for_voice`.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch

from soundmatch.errors import UserError
from synths.base import Note, Synth, synth_registry
from synths.dx7.voice import Voice


def is_dx7_family(synth: object) -> bool:
    """True for synths that take DX7 voices (they have ``voice_to_unit`` and ``unit_to_voice``)."""
    return callable(getattr(synth, "voice_to_unit", None)) and callable(getattr(synth, "unit_to_voice", None))


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


def synth_for_voice(name: str, voice: Voice, hold: float, **options: Any) -> Synth:
    """Synth ``name`` configured to play ``voice``: its algorithm, note-off after ``hold`` s.

    ``options`` are further constructor options. Options the synth does not have
    (a fixed-routing variant has no free algorithm) are left out.
    """
    factory = synth_registry.get(name)
    require_dx7_family(factory, name, "playing a DX7 voice")
    accepted = inspect.signature(factory).parameters
    wanted = {"algorithm": voice.algorithm + 1, "hold": hold, **options}
    return synth_registry.create(name, **{k: v for k, v in wanted.items() if k in accepted or k in options})


def render_voice(synth: Synth, voice: Voice, *, note: Note, sample_rate: int, duration: float) -> np.ndarray:
    """Mono float32 audio ``[round(sample_rate * duration)]`` of ``voice`` played by ``synth``."""
    x = synth.voice_to_unit(voice).reshape(1, -1).float()  # type: ignore[attr-defined]
    with torch.no_grad():
        audio = synth.render(x, sample_rate=sample_rate, duration=duration, note=note)
    return audio[0].detach().cpu().numpy().astype(np.float32)
