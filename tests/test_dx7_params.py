"""The dx7 synth's parameters: unit cube <-> DX7 voice, presets, sysex export, the sampler."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from soundmatch.errors import UserError
from synths.base import synth_registry
from synths.dx7.envelope import amp_envelope, amp_target, block_times, scale_level
from synths.dx7.synth import DX7
from synths.dx7.voice import Voice

CONF = Path(__file__).resolve().parents[1] / "benchmark" / "conf" / "synth"


def random_voice(rng: random.Random) -> Voice:
    """Any valid DX7 voice: every field drawn over its whole range."""
    v = Voice()
    for op in v.ops:
        op.rates = [rng.randint(0, 99) for _ in range(4)]
        op.levels = [rng.randint(0, 99) for _ in range(4)]
        op.output_level, op.coarse, op.fine = rng.randint(0, 99), rng.randint(0, 31), rng.randint(0, 99)
        op.detune, op.mode = rng.randint(0, 14), rng.randint(0, 1)
        op.velocity_sens, op.rate_scaling, op.amp_mod_sens = (
            rng.randint(0, 7),
            rng.randint(0, 7),
            rng.randint(0, 3),
        )
    v.pitch_rates = [rng.randint(0, 99) for _ in range(4)]
    v.pitch_levels = [rng.randint(0, 99) for _ in range(4)]
    v.algorithm, v.feedback = rng.randint(0, 31), rng.randint(0, 7)
    v.lfo_speed, v.lfo_delay, v.lfo_pmd, v.lfo_amd = (rng.randint(0, 99) for _ in range(4))
    v.lfo_wave, v.pitch_mod_sens = rng.randint(0, 5), rng.randint(0, 7)
    return v


def test_voice_unit_round_trip_covers_every_searched_value():
    synth = DX7(algorithm=None, keyboard=True)
    rng = random.Random(0)
    for _ in range(8):
        voice = random_voice(rng)
        x = synth.voice_to_unit(voice)
        assert x.shape == (synth.dim,) and bool(((x >= 0) & (x <= 1)).all())
        assert synth.unit_to_voice(x).ops == voice.ops
        back = synth.unit_to_voice(x)
        for name in ("pitch_rates", "pitch_levels", "algorithm", "feedback", "lfo_speed", "lfo_delay",
                     "lfo_pmd", "lfo_amd", "lfo_wave", "pitch_mod_sens"):  # fmt: skip
            assert getattr(back, name) == getattr(voice, name), name
        torch.testing.assert_close(synth.voice_to_unit(back), x)


def test_unit_to_voice_rounds_to_the_nearest_value():
    synth = DX7()
    x = torch.full((synth.dim,), 0.5)
    voice = synth.unit_to_voice(x)
    assert voice.ops[0].rates[0] == round(0.5 * 99) and voice.ops[0].coarse == round(0.5 * 31)
    assert voice.algorithm == 4  # fixed by the config (algorithm 5)


def test_unsearched_fields_keep_the_configured_values():
    synth = DX7(algorithm=18, feedback=0, ratios=[1, 1, 1, 1, 3.2, 8.5], pitch_eg=False, lfo=False)
    assert "feedback" not in synth.spec.names and "op1_coarse" not in synth.spec.names
    assert synth.dim == 6 * 9
    voice = synth.unit_to_voice(torch.rand(synth.dim, generator=torch.Generator().manual_seed(0)))
    assert voice.algorithm == 17 and voice.feedback == 0
    assert [(op.coarse, op.fine) for op in voice.ops[4:]] == [(2, 60), (5, 70)]  # 3.2 and 8.5 exactly
    assert voice.pitch_levels == [50, 50, 50, 50] and voice.lfo_pmd == 0


def test_algorithm_is_fixed_or_categorical():
    assert "algorithm" not in DX7(algorithm=7).spec.names
    param = DX7(algorithm=None).spec["algorithm"]
    assert param.categorical and len(param.choices) == 32
    with pytest.raises(UserError, match="algorithm"):
        DX7(algorithm=33)
    with pytest.raises(UserError, match="ratios"):
        DX7(ratios=[1, 2])


@pytest.mark.parametrize(("preset", "algo", "ratios"), [
    ("dx7_strings", 1, [1, 1, 1, 1, 3, 14]), ("dx7_flute", 16, [1, 1, 1, 2, 2, 1.5]),
    ("dx7_brass", 18, [1, 1, 1, 1, 3.2, 8.5]),
])  # fmt: skip
def test_ddx7_presets(preset, algo, ratios):
    options = OmegaConf.to_container(OmegaConf.load(CONF / f"{preset}.yaml"))
    assert options.pop("name") == "dx7"
    synth = synth_registry.create("dx7", **options)
    voice = synth.unit_to_voice(torch.rand(synth.dim))
    assert voice.algorithm + 1 == algo and voice.feedback == 0
    got = [(0.5 if op.coarse == 0 else op.coarse) * (1 + op.fine / 100) for op in voice.ops]
    assert got == pytest.approx(ratios, abs=1e-9)
    assert all(op.mode == 0 for op in voice.ops)


def test_default_config_builds_the_synth():
    options = OmegaConf.to_container(OmegaConf.load(CONF / "dx7.yaml"))
    synth = synth_registry.create(options.pop("name"), **options)
    assert isinstance(synth, DX7) and synth.algorithm == 5


def test_quantized_render_is_the_exported_patch(tmp_path):
    from synths.dx7.sysex import read_voices

    synth = DX7()
    x = torch.rand(1, synth.dim, generator=torch.Generator().manual_seed(4))
    synth.export_patch(x[0], tmp_path)
    data = (tmp_path / "match.syx").read_bytes()
    assert len(data) == 163
    (voice,) = read_voices(tmp_path / "match.syx")
    assert voice.ops == synth.unit_to_voice(x[0]).ops
    direct = synth.render(x, sample_rate=8000, duration=0.3)
    from_patch = synth.render_voices([voice], sample_rate=8000, duration=0.3, hold=0.225)
    torch.testing.assert_close(direct, from_patch, rtol=0, atol=1e-5)


def test_sampler_is_seeded_and_plausible():
    synth = DX7(algorithm=None)
    a = synth.sample(16, torch.Generator().manual_seed(7))
    b = synth.sample(16, torch.Generator().manual_seed(7))
    torch.testing.assert_close(a, b)
    assert a.shape == (16, synth.dim) and bool(((a >= 0) & (a <= 1)).all())
    audio = synth.render(a, sample_rate=8000, duration=1.0)
    rms_db = 20 * torch.log10(audio[:, 2000:6000].pow(2).mean(-1).sqrt())
    assert bool((rms_db > -30).all()), rms_db  # at least one audible carrier
    values = synth.values(a)
    # the envelopes reach their sustain level before note-off (0.75 s)
    t = block_times(8000, 8000)
    outlevel = 32.0 * scale_level(values["output_level"]).reshape(-1)
    levels = amp_envelope(t, values["rates"].reshape(-1, 4), values["levels"].reshape(-1, 4), outlevel,
                          torch.zeros(outlevel.shape), note_off=0.75)  # fmt: skip
    sustain = amp_target(values["levels"].reshape(-1, 4)[:, 2], outlevel)
    at_note_off = levels[:, int(0.74 * 8000 / 64)]
    assert bool(((at_note_off - sustain).abs() < 0.05).all())
    # modulators' peak index (full EG level) stays in a useful range: about 0.3 to 5 rad
    algos = values["algorithm"].long().tolist()
    from synths.dx7.algorithms import algorithm

    for row, number in enumerate(algos):
        for op in range(1, 7):
            if op not in algorithm(number).carriers:
                peak = float(amp_target(torch.tensor(99.0), outlevel.view(16, 6)[row, op - 1]))
                index_rad = 2 * torch.pi * 2.0 ** (peak - 14.0)
                assert 0.25 < index_rad < 5.5
