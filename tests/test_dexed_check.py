"""reference_check: the exported voice played by Dexed against our engine (the sound designer's check),
through the synth's reference_render hook."""

from __future__ import annotations

import math

import pytest
import torch

from benchmark.run.reference_check import reference_check
from synths.base import Note, synth_registry


def dexed_lsd(synth, x, note, duration):
    return reference_check(synth, x, note, duration).values


def test_a_check_that_cannot_run_is_skipped_with_its_reason(monkeypatch):
    """Dexed absent, or a note off the keyboard: skipped and said why, never an error (quietly when
    only the engine is missing); a synth without a reference engine has no check."""
    import importlib.util

    dx7 = synth_registry.create("dx7", hold=0.3)
    x = dx7.sample(1, torch.Generator().manual_seed(3))[0]
    off = reference_check(dx7, x, Note(131.0), 0.5)
    assert off.values == {} and "outside the keyboard" in off.skipped and not off.quiet
    assert off.tags() == {"soundmatch.dexed_check": f"skipped: {off.skipped}"}
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "dexed" else find_spec(name, *a)
    )
    absent = reference_check(dx7, x, Note(60.0), 0.5)
    assert absent.values == {} and "dexed-py is not installed" in absent.skipped and absent.quiet
    fm2 = synth_registry.create("fm2")
    assert (
        reference_check(fm2, fm2.sample(1, torch.Generator().manual_seed(0))[0], Note(60.0), 0.5).tags() == {}
    )


def test_a_fractional_note_is_checked_at_its_nearest_key():
    pytest.importorskip("dexed")
    dx7 = synth_registry.create("dx7", hold=0.3)
    x = dx7.sample(1, torch.Generator().manual_seed(3))[0]
    check = reference_check(dx7, x, Note(36.0203), 0.5)
    assert check.skipped is None and check.note == 36
    assert check.tags() == {"soundmatch.dexed_check": "ran at MIDI 36"}
    at_key = dexed_lsd(dx7, x, Note(36.0), 0.5)["dexed_lsd"]
    assert check.values["dexed_lsd"] == pytest.approx(at_key, abs=1e-9)


def test_dexed_lsd_is_small_for_a_dx7_voice_and_none_for_other_synths():
    pytest.importorskip("dexed")
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
    pytest.importorskip("dexed")
    dx7 = synth_registry.create("dx7", hold=0.3)
    x = dx7.sample(1, torch.Generator().manual_seed(3))[0]
    same = dexed_lsd(dx7, x, Note(60.0), 0.5)["dexed_lsd"]
    from synths.dx7.synth import DX7

    original = DX7.render_voices

    def sharp(self, voices, note, **kwargs):
        return original(self, voices, note=Note(note.pitch + 1.0, note.velocity), **kwargs)

    monkeypatch.setattr(DX7, "render_voices", sharp)
    assert dexed_lsd(dx7, x, Note(60.0), 0.5)["dexed_lsd"] > same + 3.0
