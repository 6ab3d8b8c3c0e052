"""The Yamaha DX7: a differentiable 6-operator phase-modulation engine, voices and sysex."""

from synths.dx7 import synth as synth  # registers the "dx7" synth with the synth registry
