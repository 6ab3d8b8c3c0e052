"""The DX7 amplitude LFO against Dexed: same polarity and depth (level envelope within 0.5 dB)."""

from __future__ import annotations

import numpy as np
import pytest

from synths.base import Note
from synths.dx7.synth import DX7
from synths.dx7.voice import OperatorData, Voice

pytest.importorskip("dexed")

SR = 48000  # Dexed is exact at 48 kHz (it mistunes some pitches at 16 kHz)


def level_db(audio: np.ndarray, hop: int = 240) -> np.ndarray:
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    return 10.0 * np.log10((frames**2).mean(axis=1) + 1e-12)


@pytest.mark.parametrize("wave", [1, 2, 4])  # saw down, saw up, sine: a polarity error shows on each
def test_amplitude_lfo_follows_dexed(wave):
    from synths.dexed_synth import Dexed

    ops = [OperatorData(output_level=0) for _ in range(6)]
    ops[0] = OperatorData(output_level=99, amp_mod_sens=3)
    voice = Voice(ops=ops, algorithm=31, lfo_speed=20, lfo_amd=60, lfo_wave=wave, lfo_sync=1)
    kwargs = dict(sample_rate=SR, duration=0.6, note=Note(60), hold=0.5)
    ours = DX7().render_voices([voice], **kwargs)[0].numpy()
    ref = Dexed().render_voices([voice], **kwargs)[0].numpy()
    a, b = level_db(ours)[5:100], level_db(ref)[5:100]
    assert b.max() - b.min() > 6.0  # the LFO really swings the level
    assert np.mean(np.abs(a - b)) < 0.5
    assert np.corrcoef(a, b)[0, 1] > 0.95


@pytest.mark.parametrize("sync", [0, 1])
def test_lfo_key_sync_on_and_off_follow_dexed(sync):
    from synths.dexed_synth import Dexed

    ops = [OperatorData(output_level=0) for _ in range(6)]
    ops[0] = OperatorData(output_level=99, amp_mod_sens=3)
    voice = Voice(ops=ops, algorithm=31, lfo_speed=35, lfo_amd=60, lfo_wave=2, lfo_sync=sync)
    kwargs = dict(sample_rate=SR, duration=0.6, note=Note(60), hold=0.5)
    ours = DX7().render_voices([voice], **kwargs)[0].numpy()
    ref = Dexed().render_voices([voice], **kwargs)[0].numpy()
    assert np.mean(np.abs(level_db(ours)[5:100] - level_db(ref)[5:100])) < 0.5
