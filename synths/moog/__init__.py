"""``moog``: modular subtractive synth after DiffMoog; chains of cells are data (chains/*.yaml)."""

from synths.moog.synth import Moog

__all__ = ["Moog"]
