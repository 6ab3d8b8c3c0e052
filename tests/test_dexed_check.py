"""dexed_lsd: the exported voice played by Dexed against our engine (the sound designer's check)."""

from __future__ import annotations

import math

import pytest
import torch

from benchmark.run.dexed_check import dexed_lsd
from synths.base import Note, synth_registry

pytest.importorskip("dexed")


def test_dexed_lsd_is_small_for_a_dx7_voice_and_none_for_other_synths():
    dx7 = synth_registry.create("dx7", hold=0.3)
    x = dx7.sample(1, torch.Generator().manual_seed(3))[0]
    values = dexed_lsd(dx7, x, Note(60.0), 0.5)
    assert set(values) == {"dexed_lsd", "dexed_lsd80"}
    assert all(math.isfinite(v) for v in values.values())
    # the top-60-dB figure leaves out the noise floors the 80 dB one counts
    assert values["dexed_lsd"] <= values["dexed_lsd80"] and values["dexed_lsd"] < 2.0
    fm2 = synth_registry.create("fm2")
    assert dexed_lsd(fm2, fm2.sample(1, torch.Generator().manual_seed(0))[0], Note(60.0), 0.5) == {}


def test_dexed_lsd_counts_a_real_difference(monkeypatch):
    """A voice detuned by a semitone in our render only is far from Dexed's: the check can fail."""
    dx7 = synth_registry.create("dx7", hold=0.3)
    x = dx7.sample(1, torch.Generator().manual_seed(3))[0]
    same = dexed_lsd(dx7, x, Note(60.0), 0.5)["dexed_lsd"]
    from synths.dx7.synth import DX7

    original = DX7.render_voices

    def sharp(self, voices, note, **kwargs):
        return original(self, voices, note=Note(note.pitch + 1.0, note.velocity), **kwargs)

    monkeypatch.setattr(DX7, "render_voices", sharp)
    assert dexed_lsd(dx7, x, Note(60.0), 0.5)["dexed_lsd"] > same + 3.0
