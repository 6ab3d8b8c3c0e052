"""The target's vibrato drawn by the DX7's LFO, chosen by inverting the engine's own LFO
(:mod:`synths.dx7.lfo`) rather than by a formula of our own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from analysis.vibrato import Vibrato
from synths.dx7.lfo import PMS_TABLE, delay_ramp, lfo_hz

# ---- the LFO: a vibrato --------------------------------------------------------------------------

VIBRATO_LFO = ("lfo_speed", "lfo_pmd", "lfo_delay")  # what the search refines of a vibrato's LFO


@dataclass(frozen=True)
class LfoPlan:
    """LFO settings that draw a vibrato: speed, delay, pitch-mod depth 0..99 and sensitivity 0..7."""

    speed: int
    delay: int
    pmd: int
    pms: int


def _vibrato_cents(pmd: int, pms: int) -> float:
    """Peak pitch swing (cents) of a sine LFO at PMD and PMS (:func:`synths.dx7.lfo.pitch_modulation`)."""
    return math.floor(165 * pmd / 64) * PMS_TABLE[pms] / 2.0**15 * 0.5 * 1200.0


@cache
def _delay_half_times(sample_rate: float) -> np.ndarray:
    """Seconds after note-on at which the LFO delay's fade-in reaches half depth, for delays 0..99."""
    t = torch.arange(0.0, 12.0, 0.002, dtype=torch.float64)
    ramp = delay_ramp(t, torch.arange(100, dtype=torch.float64), sample_rate)
    return t[(ramp >= 0.5).double().argmax(dim=1)].numpy()


def plan_lfo(vibrato: Vibrato, sample_rate: float) -> LfoPlan:
    """The DX7 LFO (sine wave) nearest ``vibrato``: the speed whose rate (as Dexed runs it at
    ``sample_rate``) is nearest, the smallest PMS whose PMD (<= 99) reaches the depth (the finest
    steps), and the delay whose fade-in reaches half depth nearest the vibrato's onset."""
    rates = lfo_hz(torch.arange(100, dtype=torch.float64), sample_rate).numpy()
    speed = int(np.argmin(np.abs(np.log(rates / vibrato.rate_hz))))
    pms = next((p for p in range(1, 8) if _vibrato_cents(99, p) >= vibrato.depth_cents), 7)
    pmd = min(range(100), key=lambda d: abs(_vibrato_cents(d, pms) - vibrato.depth_cents))
    delay = int(np.argmin(np.abs(_delay_half_times(float(sample_rate)) - vibrato.onset)))
    return LfoPlan(speed, delay, pmd, pms)
