"""Differentiable synthesizers and their shared DSP blocks."""

from synths.base import Note, Param, ParamSpec, Synth, synth_registry

__all__ = ["Note", "Param", "ParamSpec", "Synth", "synth_registry"]
