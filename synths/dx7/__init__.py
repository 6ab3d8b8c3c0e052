"""The Yamaha DX7: a differentiable 6-operator phase-modulation engine, voices and sysex."""
