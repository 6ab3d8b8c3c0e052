"""Banks travel both ways between soundmatch and dexed-py with every parameter value intact."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest

from synths.dx7 import sysex
from synths.dx7.reference import DexedRenderer, voice_to_patch
from synths.dx7.voice import Voice

dexed = pytest.importorskip("dexed")


def same_values(patch, voice: Voice) -> list[str]:
    """Names of the parameters where a dexed.Patch and a Voice differ (empty when equal)."""
    pairs = [
        ("algorithm", patch.algorithm, voice.algorithm),
        ("feedback", patch.feedback, voice.feedback),
        ("osc_sync", int(patch.osc_key_sync), voice.osc_sync),
        ("transpose", patch.transpose, voice.transpose),
        ("pitch_rates", list(patch.pitch_envelope.rates), voice.pitch_rates),
        ("pitch_levels", list(patch.pitch_envelope.levels), voice.pitch_levels),
        ("lfo_speed", patch.lfo.speed, voice.lfo_speed),
        ("lfo_delay", patch.lfo.delay, voice.lfo_delay),
        ("lfo_pmd", patch.lfo.pitch_mod_depth, voice.lfo_pmd),
        ("lfo_amd", patch.lfo.amp_mod_depth, voice.lfo_amd),
        ("lfo_sync", int(patch.lfo.sync), voice.lfo_sync),
        ("lfo_wave", patch.lfo._wave, voice.lfo_wave),
        ("pitch_mod_sens", patch.pitch_mod_sensitivity, voice.pitch_mod_sens),
        ("name", patch.name, voice.name),
    ]
    for i in range(6):
        p, v = patch.op[i], voice.ops[i]  # both index OP1 as 0
        pairs += [
            (f"OP{i + 1} rates", list(p.envelope.rates), v.rates),
            (f"OP{i + 1} levels", list(p.envelope.levels), v.levels),
            (f"OP{i + 1} break_point", p.breakpoint, v.break_point),
            (f"OP{i + 1} left_depth", p.left_depth, v.left_depth),
            (f"OP{i + 1} right_depth", p.right_depth, v.right_depth),
            (f"OP{i + 1} left_curve", p._left_curve, v.left_curve),
            (f"OP{i + 1} right_curve", p._right_curve, v.right_curve),
            (f"OP{i + 1} rate_scaling", p.rate_scaling, v.rate_scaling),
            (f"OP{i + 1} amp_mod_sens", p.amp_mod_sensitivity, v.amp_mod_sens),
            (f"OP{i + 1} velocity_sens", p.velocity_sensitivity, v.velocity_sens),
            (f"OP{i + 1} output_level", p.output_level, v.output_level),
            (f"OP{i + 1} mode", p.frequency_mode, v.mode),
            (f"OP{i + 1} coarse", p.frequency_coarse, v.coarse),
            (f"OP{i + 1} fine", p.frequency_fine, v.fine),
            (f"OP{i + 1} detune", p.detune, v.detune),
        ]
    return [name for name, a, b in pairs if a != b]


def random_patch(rng: random.Random, index: int):
    """A dexed.Patch with every parameter set through dexed-py's own named attributes."""
    patch = dexed.Patch(f"DEXED {index:02d}")
    patch.algorithm, patch.feedback = rng.randint(0, 31), rng.randint(0, 7)
    patch.osc_key_sync, patch.transpose = bool(rng.getrandbits(1)), rng.randint(0, 48)
    patch.pitch_envelope.rates = [rng.randint(0, 99) for _ in range(4)]
    patch.pitch_envelope.levels = [rng.randint(0, 99) for _ in range(4)]
    patch.lfo.speed, patch.lfo.delay = rng.randint(0, 99), rng.randint(0, 99)
    patch.lfo.pitch_mod_depth, patch.lfo.amp_mod_depth = rng.randint(0, 99), rng.randint(0, 99)
    patch.lfo.sync, patch.lfo.wave = bool(rng.getrandbits(1)), rng.randint(0, 5)
    patch.pitch_mod_sensitivity = rng.randint(0, 7)
    for op in patch.op:
        op.envelope.rates = [rng.randint(0, 99) for _ in range(4)]
        op.envelope.levels = [rng.randint(0, 99) for _ in range(4)]
        op.breakpoint, op.left_depth, op.right_depth = (rng.randint(0, 99) for _ in range(3))
        op.left_curve, op.right_curve = rng.randint(0, 3), rng.randint(0, 3)
        op.rate_scaling, op.amp_mod_sensitivity = rng.randint(0, 7), rng.randint(0, 3)
        op.velocity_sensitivity, op.output_level = rng.randint(0, 7), rng.randint(0, 99)
        op.frequency_mode, op.frequency_coarse = rng.randint(0, 1), rng.randint(0, 31)
        op.frequency_fine, op.detune = rng.randint(0, 99), rng.randint(0, 14)
    return patch


def random_voice(rng: random.Random, index: int) -> Voice:
    values = [rng.randint(0, top) for _, top in sysex.FIELDS]
    values[145:155] = [ord(c) for c in f"MINE {index:02d}".ljust(10)]
    return sysex.voice_from_values(values)


def test_bank_written_by_dexed_reads_back_here(tmp_path: Path) -> None:
    rng = random.Random(11)
    patches = [random_patch(rng, i) for i in range(32)]
    path = tmp_path / "from_dexed.syx"
    dexed.Patch.save_to_bank(str(path), patches)
    voices = sysex.read_voices(path)
    assert len(voices) == 32
    for i, (patch, voice) in enumerate(zip(patches, voices, strict=True)):
        assert same_values(patch, voice) == [], f"voice {i}"
    assert sysex.encode_bank(voices) == path.read_bytes()  # and it re-encodes to the same bytes


def test_bank_written_here_loads_in_dexed(tmp_path: Path) -> None:
    rng = random.Random(12)
    voices = [random_voice(rng, i) for i in range(32)]
    path = tmp_path / "from_soundmatch.syx"
    sysex.write_bank(path, voices)
    patches = dexed.Patch.load_bank(str(path))
    for i, (patch, voice) in enumerate(zip(patches, voices, strict=True)):
        assert same_values(patch, voice) == [], f"voice {i}"


def test_single_voice_and_patch_agree() -> None:
    rng = random.Random(13)
    for i in range(8):
        voice = random_voice(rng, i)
        assert same_values(voice_to_patch(voice), voice) == []
        (back,) = sysex.decode(sysex.encode_single(voice))
        assert same_values(dexed.Patch.from_sysex(sysex.encode_single(voice)[6:-2]), back) == []


def test_renderer_plays_a_sine_at_the_note() -> None:
    """One carrier at full level, ratio 1: a sine at the note's frequency, deterministic."""
    voice = Voice()
    for op in voice.ops[1:]:
        op.output_level = 0
    voice.ops[0].output_level = 99
    renderer = DexedRenderer()
    audio = renderer.render(voice, pitch=69, velocity=100, hold=0.8, duration=1.0, sample_rate=16000)
    assert audio.shape == (16000,) and audio.dtype == np.float32
    steady = audio[2000:10000]
    spectrum = np.abs(np.fft.rfft(steady * np.hanning(steady.size)))
    assert np.argmax(spectrum) * 16000 / steady.size == pytest.approx(440.0, abs=2.0)
    again = renderer.render(voice, pitch=69, velocity=100, hold=0.8, duration=1.0, sample_rate=16000)
    assert np.array_equal(audio, again)
    assert np.abs(audio[-1000:]).max() < 0.01 * np.abs(steady).max()  # released and gone


def test_comparison_sees_a_difference() -> None:
    rng = random.Random(14)
    voice = random_voice(rng, 0)
    patch = voice_to_patch(voice)
    voice.ops[3].fine = (voice.ops[3].fine + 1) % 100
    assert same_values(patch, voice) == ["OP4 fine"]


def test_missing_dexed_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from soundmatch.errors import UserError
    from synths.dx7.reference import load_dexed

    monkeypatch.setitem(sys.modules, "dexed", None)  # makes `import dexed` fail
    with pytest.raises(UserError, match=r"not installed: pip install 'soundmatch\[dexed\]'"):
        load_dexed()
