"""dexed_lsd: the exported voice played by Dexed against our engine (the sound designer's check)."""

from __future__ import annotations

import math

import pytest
import torch

from benchmark.dexed_check import dexed_lsd
from synths.base import Note, synth_registry

pytest.importorskip("dexed")


def test_dexed_lsd_is_small_for_a_dx7_voice_and_none_for_other_synths():
    dx7 = synth_registry.create("dx7", hold=0.3)
    x = dx7.sample(1, torch.Generator().manual_seed(3))[0]
    value = dexed_lsd(dx7, x, Note(60.0), 0.5)
    assert value is not None and math.isfinite(value) and value < 6.0
    fm2 = synth_registry.create("fm2")
    assert dexed_lsd(fm2, fm2.sample(1, torch.Generator().manual_seed(0))[0], Note(60.0), 0.5) is None
