"""moog synth: cell physics (pitch, FM sidebands, aliasing, ADSR, tremolo), stages, sampler, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import scipy.special
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losses.mss import MultiScaleSpectral
from losses.signal_chain import SignalChain
from synths.base import Note
from synths.dsp import adsr, time_axis
from synths.moog import Moog
from synths.moog.modules import Context, Oscillator, Tremolo

SR = 16000
NOTE = Note(60)


def _ctx(num_samples: int = SR) -> Context:
    return Context(SR, num_samples, NOTE.hz, hold=0.75, block=32, noise_seed=0, device=torch.device("cpu"))


def _patch(synth: Moog, **physical) -> torch.Tensor:
    """A unit vector ``[1, D]``: the named physical values, every other parameter at 0.5."""
    u = torch.full((1, synth.dim), 0.5)
    for name, value in physical.items():
        param = synth.spec[name]
        u[0, synth.spec.index(name)] = param.to_unit(torch.tensor(value))
    return u


def _osc(kind: str, freq: float, **extra) -> torch.Tensor:
    osc = Oscillator("o", {"waveform": kind}, extra.pop("sources", {}))
    p = {"transpose": torch.tensor([12 * math.log2(freq / NOTE.hz)]), "amp": torch.tensor([1.0])}
    p |= {"phase": torch.tensor([0.0]), **{k: torch.tensor([v]) for k, v in extra.items() if k != "inputs"}}
    return osc.render(p, extra.get("inputs", {}), _ctx())[0].double()


@pytest.mark.parametrize("kind", ["saw", "square", "triangle"])
@pytest.mark.parametrize("f0", [41.0, 1234.0, 3001.0])
def test_oscillator_aliasing_is_80_db_down(kind, f0):
    """Stated level: every alias at least 80 dB below the fundamental, 41 Hz .. 3 kHz.

    f0 is a whole number of Hz over 1 s, so harmonics and aliases fall on FFT bins;
    for these f0 every alias of the first folds lies 10 or more bins from a harmonic,
    outside the window's main lobe. A naive saw at 1234 Hz has aliases near -20 dB.
    """
    window = scipy.signal.windows.blackmanharris(SR, sym=False)  # sidelobes below -92 dB
    power = np.abs(np.fft.rfft(_osc(kind, f0).numpy() * window)) ** 2
    offset = np.arange(power.size) % int(f0)
    harmonic = (offset <= 4) | (offset >= int(f0) - 4)  # the window's main lobe around each harmonic
    assert power[int(f0)] == power.max()
    worst_alias_db = 10 * np.log10(power[~harmonic].max() / power[int(f0)])
    assert worst_alias_db < -80
    # and the harmonics that are kept follow the Fourier series (saw: 1/n)
    if kind == "saw":
        n = np.arange(1, int(SR / 2 / f0) + 1)[:5]
        amps = np.sqrt(power[(n * f0).astype(int)]) * 2 / window.sum()
        np.testing.assert_allclose(amps, 2 / (np.pi * n), rtol=2e-3)


def test_oscillator_plays_the_transposed_note():
    synth = Moog(chain="simple")
    x = _patch(synth, **{"saw.transpose": 7.0, "square.amp": 0.01, "filter.cutoff": 8000.0})
    y = synth.stages(x, sample_rate=SR, duration=1.0, note=NOTE)["saw"][0].numpy()
    peak = np.argmax(np.abs(np.fft.rfft(y)))
    assert peak == pytest.approx(NOTE.hz * 2 ** (7 / 12), abs=1.0)


def test_fm_sidebands_follow_bessel_functions():
    """Phase modulation by a sine of index I: partial f_c + n f_m has amplitude |J_n(I)|."""
    f_c, f_m, index = 3000.0, 250.0, 2.4  # no sideband below 0 Hz folds onto another
    t = time_axis(SR, SR)
    modulator = torch.sin(2 * math.pi * f_m * t).float().unsqueeze(0)
    y = _osc("sine", f_c, index=index, sources={"mod": ["m"]}, inputs={"mod": [(None, modulator)]})
    amps = np.abs(np.fft.rfft(y.numpy())) * 2 / SR
    for n in range(-4, 5):
        assert amps[int(f_c + n * f_m)] == pytest.approx(abs(scipy.special.jv(n, index)), abs=2e-3)


def test_frequency_gradient_matches_finite_difference():
    """Through the square cell (no sign()), d loss / d transpose is the true derivative.

    The loss weighs the mix stage with fixed random weights (smooth in frequency, so a
    float32 central difference is accurate); the filter's own gradients are checked
    in float64 by gradcheck in test_moog_filters.
    """
    synth = Moog(chain="simple")
    weights = torch.randn(320, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    i = synth.spec.index("square.transpose")

    def loss(u):
        return (synth.stages(u, sample_rate=SR, duration=0.02)["mix"][0].double() * weights).sum()

    u = _patch(synth, **{"saw.transpose": 3.0, "square.transpose": -5.2}).requires_grad_()
    (grad,) = torch.autograd.grad(loss(u), u)
    h = 1e-4  # 0.007 semitones
    bump = torch.zeros_like(u)
    bump[0, i] = h
    fd = (loss(u.detach() + bump) - loss(u.detach() - bump)) / (2 * h)
    assert abs(float(grad[0, i])) > 1.0
    assert float(grad[0, i]) == pytest.approx(float(fd), rel=0.02)


def test_adsr_and_tremolo_cells():
    synth = Moog(chain="simple")
    times = {"amp.attack": 0.05, "amp.decay": 0.2, "amp.sustain": 0.4, "amp.release": 0.1}
    stages = synth.stages(_patch(synth, **times), sample_rate=SR, duration=0.5)
    env = adsr(time_axis(SR // 2, SR), *(torch.tensor([v]) for v in times.values()), note_off=0.375)
    torch.testing.assert_close(stages["amp"], stages["mix"] * env, rtol=1e-5, atol=1e-6)
    x, m = torch.randn(1, 100), torch.rand(1, 100) * 2 - 1
    out = Tremolo("t").render(
        {"amount": torch.tensor([0.3])}, {"in": [(None, x)], "mod": [(None, m)]}, _ctx(100)
    )
    torch.testing.assert_close(out, x * (0.3 * (m + 1) / 2 + 0.7))


def test_stages_are_every_cell_and_output_is_the_last_layer():
    synth = Moog(chain="modular")
    x = synth.sample(3, torch.Generator().manual_seed(0))
    stages = synth.stages(x, sample_rate=SR, duration=0.25, note=NOTE)
    assert list(stages) == [c.name for c in synth.chain_data.cells] + ["output"]
    assert all(s.shape == (3, 4000) and s.dtype == torch.float32 for s in stages.values())
    torch.testing.assert_close(stages["output"], stages["tremolo"])
    torch.testing.assert_close(synth.render(x, sample_rate=SR, duration=0.25, note=NOTE), stages["output"])


def test_optional_connection_gates():
    """filter.from_sweep off: the sweep LFO cannot reach the output; on: it moves the cutoff."""
    synth = Moog(chain="modular")
    base = synth.sample(1, torch.Generator().manual_seed(3))
    gate, rate = synth.spec.index("filter.from_sweep"), synth.spec.index("sweep.rate")
    depth = synth.spec.index("filter.mod_depth")
    base[0, depth] = 1.0
    renders = {}
    for gate_u in (0.25, 0.75):
        for rate_u in (0.1, 0.9):
            x = base.clone()
            x[0, gate], x[0, rate] = gate_u, rate_u
            renders[gate_u, rate_u] = synth.render(x, sample_rate=SR, duration=0.5)
    torch.testing.assert_close(renders[0.25, 0.1], renders[0.25, 0.9])
    assert (renders[0.75, 0.1] - renders[0.75, 0.9]).abs().max() > 1e-3


def test_noise_is_seeded():
    a = Moog(chain="modular", noise_seed=1)
    x = a.sample(2, torch.Generator().manual_seed(0))
    one = a.stages(x, sample_rate=SR, duration=0.1)["noise"]
    torch.testing.assert_close(one, a.stages(x, sample_rate=SR, duration=0.1)["noise"])
    other = Moog(chain="modular", noise_seed=2).stages(x, sample_rate=SR, duration=0.1)["noise"]
    assert not torch.allclose(one, other)


def test_sampler_is_seeded_plausible_and_switches_connections():
    synth = Moog(chain="modular")
    x = synth.sample(200, torch.Generator().manual_seed(0))
    torch.testing.assert_close(x, synth.sample(200, torch.Generator().manual_seed(0)))
    assert x.shape == (200, synth.dim) and float(x.min()) >= 0 and float(x.max()) <= 1
    gates = x[:, [synth.spec.index(n) for n in synth.spec.names if ".from_" in n]]
    on_share = float((gates >= 0.5).float().mean())
    assert 0.35 < on_share < 0.65
    assert float(x[:, synth.spec.index("amp.sustain")].min()) >= 0.3 - 1e-6  # audible notes
    audio = synth.render(x[:8], sample_rate=SR, duration=0.25, note=NOTE)
    assert bool((audio.square().mean(-1).sqrt() > 1e-3).all())


def test_signal_chain_loss_on_moog_stages():
    synth = Moog(chain="simple")
    loss = SignalChain(sample_rate=SR)
    gen = torch.Generator().manual_seed(4)
    target = synth.stages(synth.sample(1, gen), sample_rate=SR, duration=0.1)
    bound = loss.bind(target)
    x = synth.sample(2, gen).requires_grad_()
    value = bound(synth.stages(x, sample_rate=SR, duration=0.1))
    assert value.shape == (2,) and bool((value > 0).all())
    value.sum().backward()
    assert torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0
    assert float(bound(target)[0]) == pytest.approx(0.0, abs=1e-5)


unit_vectors = st.lists(
    st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0, allow_nan=False)), min_size=44, max_size=44
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chain=st.sampled_from(["simple", "fm", "modular"]), values=unit_vectors)
def test_gradients_are_finite_everywhere(chain, values):
    """Any point of the cube, edges included: finite audio and finite gradients of a spectral loss."""
    synth = SYNTHS[chain]
    x = torch.tensor([values[: synth.dim]], requires_grad=True)
    stages = synth.stages(x, sample_rate=SR, duration=0.1, note=NOTE)
    assert all(bool(torch.isfinite(s).all()) for s in stages.values())
    loss = MSS(stages["output"], TARGET[..., : stages["output"].shape[-1]]).sum()
    loss = loss + sum(s.square().mean() for s in stages.values())
    loss.backward()
    assert bool(torch.isfinite(x.grad).all())


SYNTHS = {c: Moog(chain=c) for c in ("simple", "fm", "modular")}
MSS = MultiScaleSpectral(sample_rate=SR, fft_sizes=[512, 128])
TARGET = torch.sin(2 * math.pi * 440 * time_axis(1600, SR)).float().unsqueeze(0)
