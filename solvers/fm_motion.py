"""The target's vibrato and tremolo drawn by the DX7's LFO, chosen by inverting the engine's own
LFO (:mod:`synths.dx7.lfo`) rather than by a formula of our own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from analysis.modulation import Tremolo, Vibrato
from synths.dx7.envelope import amp_target, scale_level
from synths.dx7.lfo import AM_AT_REST, AM_GROWTH, AMS_TABLE, PMS_TABLE, delay_ramp, lfo_hz
from synths.dx7.voice import OperatorData

# ---- the LFO: a vibrato --------------------------------------------------------------------------

VIBRATO_LFO = ("lfo_speed", "lfo_pmd", "lfo_delay")  # what the search refines of a vibrato's LFO
TREMOLO_LFO = ("lfo_speed", "lfo_amd", "lfo_delay")  # and of a tremolo's
OCTAVE_DB = 20.0 * math.log10(2.0)


@dataclass(frozen=True)
class LfoPlan:
    """LFO settings that draw a vibrato and a tremolo: speed, delay, pitch-mod depth 0..99 and
    sensitivity 0..7, amp-mod depth 0..99 and the carriers' sensitivity 0..3 (0: no tremolo)."""

    speed: int
    delay: int
    pmd: int
    pms: int
    amd: int = 0
    ams: int = 0


def _vibrato_cents(pmd: int, pms: int) -> float:
    """Peak pitch swing (cents) of a sine LFO at PMD and PMS (:func:`synths.dx7.lfo.pitch_modulation`)."""
    return math.floor(165 * pmd / 64) * PMS_TABLE[pms] / 2.0**15 * 0.5 * 1200.0


@cache
def _delay_half_times(sample_rate: float) -> np.ndarray:
    """Seconds after note-on at which the LFO delay's fade-in reaches half depth, for delays 0..99."""
    t = torch.arange(0.0, 12.0, 0.002, dtype=torch.float64)
    ramp = delay_ramp(t, torch.arange(100, dtype=torch.float64), sample_rate)
    return t[(ramp >= 0.5).double().argmax(dim=1)].numpy()


def _tremolo_db(amd: int, ams: int, octaves: float) -> float:
    """Peak level swing (dB, half the swing) of a carrier at ``octaves`` (its EG level) under a sine
    LFO at AMD and AMS (:func:`synths.dx7.lfo.amp_attenuation`: the level, in octaves, is scaled by
    ``1 - 0.01185 exp(4.48 x)`` with ``x`` from 0 at the wave's top to depth x sensitivity)."""
    x = math.floor(165 * amd / 64) / 256.0 * AMS_TABLE[ams]
    return 0.5 * OCTAVE_DB * octaves * AM_AT_REST * (math.exp(AM_GROWTH * x) - 1.0)


def carrier_octaves(op: OperatorData) -> float:
    """An operator's level in its body (EG level 2, the level after the decay), in the engine's
    octaves (velocity and keyboard scaling left out)."""
    outlevel = 32.0 * scale_level(torch.tensor(float(op.output_level)))
    return float(amp_target(torch.tensor(float(op.levels[1])), outlevel))


def plan_lfo(vibrato: Vibrato | None, tremolo: Tremolo | None, sample_rate: float,
             carrier_level: float = 13.0) -> LfoPlan:
    """The DX7 LFO (sine wave) nearest ``vibrato`` and ``tremolo`` (either may be None; the DX7 has
    one LFO, so a vibrato sets the rate and onset when there are both): the speed whose rate (as
    Dexed runs it at ``sample_rate``) is nearest, the smallest PMS whose PMD (<= 99) reaches the
    vibrato's depth and the smallest AMS whose AMD reaches the tremolo's on a carrier at
    ``carrier_level`` octaves (:func:`carrier_octaves`) -- the finest steps -- and the delay whose
    fade-in reaches half depth nearest the onset."""
    lead = vibrato if vibrato is not None else tremolo
    if lead is None:
        raise ValueError("plan_lfo: neither a vibrato nor a tremolo to draw")
    rates = lfo_hz(torch.arange(100, dtype=torch.float64), sample_rate).numpy()
    speed = int(np.argmin(np.abs(np.log(rates / lead.rate_hz))))
    delay = int(np.argmin(np.abs(_delay_half_times(float(sample_rate)) - lead.onset)))
    pmd = pms = amd = ams = 0
    if vibrato is not None:
        pms = next((p for p in range(1, 8) if _vibrato_cents(99, p) >= vibrato.depth_cents), 7)
        pmd = min(range(100), key=lambda d: abs(_vibrato_cents(d, pms) - vibrato.depth_cents))
    if tremolo is not None:
        ams = next((a for a in range(1, 4) if _tremolo_db(99, a, carrier_level) >= tremolo.depth_db), 3)
        amd = min(range(100), key=lambda d: abs(_tremolo_db(d, ams, carrier_level) - tremolo.depth_db))
    return LfoPlan(speed, delay, pmd, pms, amd, ams)
