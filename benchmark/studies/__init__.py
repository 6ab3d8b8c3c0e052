"""Studies of the parts themselves: the DX7 engine against Dexed (fidelity), losses' gradient
directions and landscapes, and the metric ladder (calibrate)."""
