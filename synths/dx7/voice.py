"""A DX7 voice as the synth stores it: raw integer values, exactly as in the 155-byte format.

These dataclasses are the meeting point of the sysex codec (bytes <-> Voice) and
the engine's parameter mapping (Voice <-> unit cube). Field ranges follow the
DX7 voice format (see ../shared/REFERENCE.md section 1). Operators are held in
musical order, ``ops[0]`` = OP1 ... ``ops[5]`` = OP6 (the sysex stores OP6 first).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class OperatorData:
    """One operator's 21 values (0-99 unless noted)."""

    rates: list[int] = field(default_factory=lambda: [99, 99, 99, 99])  # EG R1-R4
    levels: list[int] = field(default_factory=lambda: [99, 99, 99, 0])  # EG L1-L4
    break_point: int = 39  # 0-99, 39 = C3
    left_depth: int = 0
    right_depth: int = 0
    left_curve: int = 0  # 0-3: -LIN, -EXP, +EXP, +LIN
    right_curve: int = 0  # 0-3
    rate_scaling: int = 0  # 0-7
    amp_mod_sens: int = 0  # 0-3
    velocity_sens: int = 0  # 0-7
    output_level: int = 0
    mode: int = 0  # 0 ratio, 1 fixed
    coarse: int = 1  # 0-31
    fine: int = 0
    detune: int = 7  # 0-14, 7 = centre


@dataclass
class Voice:
    """One DX7 voice (the 155-byte unpacked form, as fields)."""

    ops: list[OperatorData] = field(default_factory=lambda: [OperatorData() for _ in range(6)])
    pitch_rates: list[int] = field(default_factory=lambda: [99, 99, 99, 99])
    pitch_levels: list[int] = field(default_factory=lambda: [50, 50, 50, 50])
    algorithm: int = 0  # 0-31 (algorithm 1 is 0)
    feedback: int = 0  # 0-7
    osc_sync: int = 1  # 0-1
    lfo_speed: int = 35
    lfo_delay: int = 0
    lfo_pmd: int = 0
    lfo_amd: int = 0
    lfo_sync: int = 1  # 0-1
    lfo_wave: int = 0  # 0-5: triangle, saw down, saw up, square, sine, sample&hold
    pitch_mod_sens: int = 3  # 0-7
    transpose: int = 24  # 0-48, 24 = C3
    name: str = "INIT VOICE"
