"""The DX7 engine against physics, the DX7's published figures and Dexed (dexed-py) where installed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from synths.base import Note
from synths.dx7.algorithms import NUM_ALGORITHMS, algorithm
from synths.dx7.envelope import amp_envelope, amp_target, scale_level
from synths.dx7.kernel import operator_network
from synths.dx7.synth import DX7
from synths.dx7.voice import Voice

SR = 16000


def lone_operator(op: int = 1, algo: int = 32, **fields) -> Voice:
    """A voice in which only operator ``op`` sounds (output level 99 unless given)."""
    v = Voice(algorithm=algo - 1)
    for o in v.ops:
        o.output_level = 0
    target = v.ops[op - 1]
    target.output_level = 99
    for k, val in fields.items():
        setattr(target, k, val)
    return v


def render(voices: list[Voice], duration: float = 1.0, pitch: float = 69.0, hold: float | None = None):
    return DX7().render_voices(voices, sample_rate=SR, duration=duration, note=Note(pitch, 100), hold=hold)


def peak_hz(y: np.ndarray, sr: int = SR) -> float:
    """Frequency of the strongest partial, refined by parabolic interpolation of the log spectrum."""
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)))) + 1e-12
    k = int(np.argmax(spec))
    a, b, c = np.log(spec[k - 1 : k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / len(y)


def harmonics(y: np.ndarray, f0: float, n: int, sr: int = SR) -> np.ndarray:
    """Magnitudes of the first n harmonics of f0 (Hann window, nearest bin)."""
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / sr)
    return np.array([spec[np.argmin(np.abs(freqs - f0 * k))] for k in range(1, n + 1)])


def test_algorithms_match_dexed_tables():
    dexed = pytest.importorskip("dexed")
    for number in range(1, NUM_ALGORITHMS + 1):
        algo = algorithm(number)
        assert [c - 1 for c in algo.carriers] == sorted(dexed.get_carriers(number - 1)), number
        matrix = np.zeros((6, 6), dtype=int)
        for src, dst in algo.edges:
            matrix[dst - 1, src - 1] = 1
        np.testing.assert_array_equal(matrix, dexed.get_mod_matrix(number - 1), err_msg=str(number))
        src, dst = algo.feedback
        assert (src - 1, dst - 1) == tuple(dexed.get_feedback_edge(number - 1)), number


def test_algorithm_structure():
    assert algorithm(1).carriers == (1, 3) and algorithm(32).carriers == (1, 2, 3, 4, 5, 6)
    assert algorithm(4).loop == (6, 5, 4) and algorithm(6).loop == (6, 5) and algorithm(2).loop == (2,)
    for number in range(1, NUM_ALGORITHMS + 1):  # modulators always have higher numbers
        assert all(src > dst for src, dst in algorithm(number).edges)
    with pytest.raises(ValueError):
        algorithm(33)


def test_gain_curve_reference_values():
    x = torch.tensor([0.0, 5.0, 19.0, 20.0, 50.0, 99.0])
    assert scale_level(x).tolist() == [0.0, 20.0, 46.0, 48.0, 78.0, 127.0]
    full = amp_target(torch.tensor(99.0), 32.0 * scale_level(torch.tensor(99.0)))
    assert 2.0 ** (float(full) - 14.0) == pytest.approx(2.0)  # L = OL = 99 -> gain 2.0
    # each output-level step above 20 is 0.75 dB
    ol = torch.tensor([60.0, 80.0])
    levels = amp_target(torch.tensor(99.0), 32.0 * scale_level(ol))
    assert float((levels[1] - levels[0]) * 20 * math.log10(2)) == pytest.approx(20 * 0.75, rel=0.01)


def test_sine_carrier_frequency_and_level():
    voices = [lone_operator(), lone_operator(coarse=2, fine=50), lone_operator(output_level=80)]
    y = render(voices).numpy()
    steady = slice(4000, 12000)
    assert peak_hz(y[0, steady]) == pytest.approx(440.0, abs=0.2)
    assert peak_hz(y[1, steady]) == pytest.approx(440.0 * 2 * 1.5, abs=0.5)  # coarse 2, fine 50
    assert np.abs(y[0, steady]).max() == pytest.approx(1.0, abs=0.01)  # gain 2.0, output scale 1/2
    ratio_db = 20 * np.log10(np.abs(y[2, steady]).max() / np.abs(y[0, steady]).max())
    assert ratio_db == pytest.approx(-19 * 0.75, abs=0.1)


def test_detune_is_about_a_cent_per_step_at_a4():
    y = render([lone_operator(detune=7), lone_operator(detune=14)], duration=2.0).numpy()
    cents = 1200 * math.log2(peak_hz(y[1, 4000:28000]) / peak_hz(y[0, 4000:28000]))
    assert 5.0 < cents < 9.0  # 7 steps of ~1 cent


@pytest.mark.parametrize(
    ("coarse", "fine", "hz"), [(0, 0, 1.0), (1, 50, 10**1.5), (2, 0, 100.0), (3, 0, 1000.0)]
)
def test_fixed_mode_frequencies(coarse, fine, hz):
    y = render([lone_operator(mode=1, coarse=coarse, fine=fine)], duration=2.0, pitch=40, hold=2.0).numpy()[0]
    if hz < 20:  # too slow for a spectrum: count zero crossings of the held part
        seg = y[4000:28000]
        crossings = np.count_nonzero(np.diff(np.signbit(seg)))
        assert crossings / 2 / (len(seg) / SR) == pytest.approx(hz, rel=0.1)
    else:
        assert peak_hz(y[4000:28000]) == pytest.approx(hz, rel=1e-3)


def test_envelope_decay_rate_r50():
    """REFERENCE: about 65 dB/s at R = 50 (the DX7's rate is per 64 samples at 44.1 kHz)."""
    t = torch.arange(0, 3.0, 0.01)
    levels = amp_envelope(
        t, torch.tensor([[99.0, 50.0, 99.0, 99.0]]), torch.tensor([[99.0, 0.0, 0.0, 0.0]]),
        torch.tensor([32.0 * 127]), torch.zeros(1), note_off=10.0,
    )[0]  # fmt: skip
    db = levels * 20 * math.log10(2)
    slope = float((db[100] - db[50]) / 0.5)
    assert slope == pytest.approx(-65.0, rel=0.05)


def test_envelope_attack_release_and_sustain():
    t = torch.arange(0, 2.0, 0.004)
    levels = amp_envelope(
        t, torch.tensor([[50.0, 99.0, 99.0, 40.0], [99.0, 99.0, 60.0, 40.0]]),
        torch.tensor([[99.0, 99.0, 99.0, 0.0], [99.0, 99.0, 80.0, 0.0]]),
        torch.tensor([32.0 * 127, 32.0 * 127]), torch.zeros(2), note_off=1.0,
    )  # fmt: skip
    full = float(amp_target(torch.tensor(99.0), torch.tensor(32.0 * 127)))
    sustain = float(amp_target(torch.tensor(80.0), torch.tensor(32.0 * 127)))
    reached = float(t[int(torch.nonzero(levels[0] >= full - 0.01)[0])])
    assert 0.15 < reached < 0.20  # Dexed reaches full level ~0.17 s after note-on at R1 = 50
    assert float(levels[1, int(0.9 / 0.004)]) == pytest.approx(sustain, abs=1e-4)
    assert float(levels[1, -1]) < sustain - 1.0  # released


def test_feedback_harmonics_grow_with_feedback():
    voices = []
    for fb in range(8):
        v = lone_operator(op=6)
        v.feedback = fb
        voices.append(v)
    y = render(voices).numpy()[:, 4000:12000]
    ratios = []
    for row in y:
        h = harmonics(row, 440.0, 6)
        ratios.append(np.sqrt((h[1:] ** 2).sum()) / h[0])
    assert ratios[0] < 1e-3  # no feedback: a pure sine
    assert all(b > a for a, b in zip(ratios[:6], ratios[1:7], strict=True))  # grows up to FB 6
    assert ratios[6] > 0.3  # rich (sawtooth-like) at high feedback


def test_matches_dexed_on_basic_patches():
    pytest.importorskip("dexed")
    from synths.dx7.reference import DexedRenderer

    fm = Voice(algorithm=0)
    for o in fm.ops:
        o.output_level = 0
    fm.ops[0].output_level, fm.ops[1].output_level, fm.ops[1].coarse = 99, 80, 2
    stack = Voice(algorithm=0, feedback=5)
    for o, level in zip(stack.ops, (0, 0, 99, 60, 70, 90), strict=True):
        o.output_level = level
    saw = lone_operator(op=6)
    saw.feedback = 6
    patches = [(fm, 440.0), (stack, 440.0), (saw, 440.0)]
    ours = render([p for p, _ in patches]).numpy()
    ref = DexedRenderer()
    for (voice, f0), y in zip(patches, ours, strict=True):
        d = ref.render(voice, pitch=69, velocity=100, hold=1.0, duration=1.0, sample_rate=SR)
        ha, hb = harmonics(d[4000:12000], f0, 8), harmonics(y[4000:12000], f0, 8)
        strong = ha > ha.max() * 10 ** (-40 / 20)
        diff_db = np.abs(20 * np.log10(hb[strong] / ha[strong]))
        assert diff_db.max() < 1.0, (voice, diff_db)


def test_render_is_batched_and_deterministic():
    synth = DX7()
    x = synth.sample(3, torch.Generator().manual_seed(1))
    a = synth.render(x, sample_rate=8000, duration=0.3)
    b = torch.cat([synth.render(x[i : i + 1], sample_rate=8000, duration=0.3) for i in range(3)])
    assert a.dtype == torch.float32 and a.shape == (3, 2400)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    torch.testing.assert_close(a, synth.render(x, sample_rate=8000, duration=0.3), rtol=0, atol=0)


@pytest.mark.filterwarnings("ignore:Input #")
def test_kernel_gradcheck():
    """The compiled adjoint against finite differences (float32: no extra compilation, loose tolerances)."""
    torch.manual_seed(0)
    for number in (1, 4, 16):  # self feedback, a 3-operator feedback loop, four modulators on one carrier
        base = torch.rand(2, 6, 2, requires_grad=True)
        step = (0.05 * torch.rand(2, 6, 2)).requires_grad_()  # x 1/64 below: per-block phase advance
        # gains are exp2(level - 14) > 0 or exactly 0 in the engine; stay clear of 0 so the
        # finite differences do not step across the floor of the geometric interpolation
        gain = (0.05 + 0.3 * torch.rand(2, 6, 3)).requires_grad_()
        beta = torch.tensor([0.3, 0.5], requires_grad=True)

        def net(b, s, g, fb, number=number):
            return operator_network(b, s / 64, g, fb, algorithm(number), 0.5, 90)

        assert torch.autograd.gradcheck(net, (base, step, gain, beta), eps=1e-3, atol=1e-2, rtol=1e-2)


def test_every_continuous_parameter_gets_a_gradient():
    synth = DX7(algorithm=1, quantize=False)
    voice = synth.unit_to_voice(synth.sample(1, torch.Generator().manual_seed(3))[0])
    for op in voice.ops:
        op.output_level = 85
    voice.feedback, voice.lfo_pmd, voice.lfo_amd, voice.pitch_mod_sens = 4, 20, 20, 3
    voice.pitch_levels = [60, 45, 50, 55]
    for op in voice.ops:
        op.amp_mod_sens = 2
    x = synth.voice_to_unit(voice).unsqueeze(0).requires_grad_(True)
    y = synth.render(x, sample_rate=8000, duration=0.5)
    y.pow(2).mean().backward()
    grad = x.grad[0]
    assert torch.isfinite(grad).all()
    names = synth.spec.names
    for name in ("feedback", "op1_output", "op2_fine", "op6_rate1", "pitch_level1", "lfo_pmd", "lfo_amd"):
        assert grad[names.index(name)] != 0, name


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), edge=st.sampled_from([0.0, 1.0, None]), quantize=st.booleans())
def test_gradients_are_finite_everywhere(seed, edge, quantize):
    synth = DX7(algorithm=None, quantize=quantize)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(2, synth.dim, generator=gen)
    if edge is not None:  # the corners of the cube: every value at its end of the range
        x[0] = edge
    x.requires_grad_(True)
    y = synth.render(x, sample_rate=8000, duration=0.15)
    assert torch.isfinite(y).all()
    (y.pow(2).mean() + y.abs().mean()).backward()
    assert torch.isfinite(x.grad).all()


def test_silent_voices_render_exact_zeros():
    silent = lone_operator(output_level=0)
    assert torch.count_nonzero(render([silent, Voice()], duration=0.3)) == 0


def test_lfo_speed_curve_matches_dexed_measurements():
    from synths.dx7.lfo import lfo_hz

    speeds = torch.tensor([0.0, 10.0, 40.0, 60.0, 70.0, 99.0])
    measured = [0.065, 1.61, 6.649, 9.933, 16.916, 50.893]  # Hz, measured on dexed-py (square-wave tremolo)
    assert lfo_hz(speeds).tolist() == pytest.approx(measured, rel=0.01)


def test_amp_modulation_depth_matches_dexed():
    """Square-wave tremolo, swing (dB) in dexed-py: AMS 1 AMD 99 2.3, AMS 2 AMD 99 6.1, AMS 3 AMD 60 14.8."""
    voices = []
    for ams, amd in ((1, 99), (2, 99), (3, 60)):
        v = lone_operator(amp_mod_sens=ams)
        v.lfo_amd, v.lfo_wave, v.lfo_speed, v.lfo_delay = amd, 3, 35, 0
        voices.append(v)
    y = render(voices, duration=1.5, pitch=60, hold=1.5).numpy()[:, 3200:22400]
    frames = np.abs(y.reshape(3, -1, 160)).max(-1)
    swing = 20 * np.log10(frames.max(-1) / frames.min(-1))
    assert swing == pytest.approx([2.3, 6.1, 14.8], abs=0.4)


def test_static_segment_holds_like_dexed():
    """L1 = L2: Dexed holds the segment for a rate-dependent time (about 1.1 s at R2 = 50, 16 kHz)."""
    v = lone_operator(rates=[99, 50, 99, 99], levels=[99, 99, 50, 0])
    y = render([v], duration=2.0, hold=2.0).numpy()[0]
    frames = 20 * np.log10(np.abs(y.reshape(-1, 160)).max(-1) + 1e-9)
    drop = (5 + int(np.argmax(frames[5:] < frames.max() - 10))) * 0.01
    assert drop == pytest.approx(1.15, abs=0.08)  # measured on dexed-py


def test_pitch_eg_segments_last_whole_updates_as_in_dexed() -> None:
    from synths.dx7.envelope import BLOCK, PITCH_LEVELS, PITCH_RATES, block_times, pitch_envelope

    sr = 16000
    t = block_times(64 * 60, sr, dtype=torch.float64)
    rates = torch.tensor([[50.0, 99.0, 99.0, 99.0]], dtype=torch.float64)
    levels = torch.tensor([[60.0, 60.0, 40.0, 50.0]], dtype=torch.float64)  # starts at L4 = 50 (0 oct)
    env = pitch_envelope(t, rates, levels, note_off=10.0, sample_rate=sr)[0]
    unit = math.floor(BLOCK * 2**24 / (21.3 * sr) + 0.5) / 2**24  # Dexed's rounded step per rate unit
    step = PITCH_RATES[50] * unit  # octaves per update
    target = PITCH_LEVELS[60] / 32.0
    updates = math.ceil(target / step)  # segment 1: the update that reaches L1 ends it
    assert env[1].item() == pytest.approx(step) and env[updates - 1].item() < target
    assert env[updates].item() == pytest.approx(target)
    # segment 2 (L1 -> L1) takes one update, doing nothing; segment 3 starts on the next one
    assert env[updates + 1].item() == pytest.approx(target)
    fast = PITCH_RATES[99] * unit
    assert env[updates + 2].item() == pytest.approx(target - fast)
    # without a sample rate the segments run in continuous time (segment 3 starts mid-update)
    free = pitch_envelope(t, rates, levels, note_off=10.0)[0]
    assert free[updates + 1].item() < target
