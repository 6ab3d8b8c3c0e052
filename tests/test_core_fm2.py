"""fm2 against physics: Bessel sidebands, envelope shape, batching, determinism, gradients."""

import numpy as np
import pytest
import torch
from scipy.special import jv

from synths.base import Note
from synths.fm2 import FM2

SR = 16000


def steady_params(synth: FM2, ratio: float, index: float) -> torch.Tensor:
    values = {
        "ratio": ratio,
        "index": index,
        "gain": 1.0,
        "attack": 0.002,
        "decay": 0.01,
        "sustain": 1.0,
        "release": 0.01,
    }
    return synth.spec.to_unit(values).reshape(1, -1)


@pytest.mark.parametrize("index", [0.5, 1.0, 2.0, 3.5, 5.0])
def test_sidebands_have_bessel_magnitudes(index):
    # Carrier 1000 Hz, modulator 1414 Hz: every sideband f_c + n f_m falls on an exact 1 Hz bin of a
    # 1 s rectangular window (no leakage), and no folded lower sideband lands on an upper one.
    synth = FM2(index_envelope=False)
    audio = synth.render(
        steady_params(synth, 1.414, index), sample_rate=SR, duration=2.0, note=Note.from_hz(1000)
    )
    segment = audio[0, SR // 2 : SR // 2 + SR].double().numpy()
    magnitude = np.abs(np.fft.rfft(segment)) / (len(segment) / 2)
    for n in range(5):
        expected = abs(jv(n, index))
        if expected < 1e-3:  # a Bessel zero: the dB comparison is meaningless there
            continue
        measured = magnitude[1000 + 1414 * n]
        assert 20 * np.log10(measured / expected) == pytest.approx(0.0, abs=0.1), n


def test_adsr_shape_and_note_off():
    synth = FM2(index_envelope=False, hold=0.5)
    values = {"ratio": 1.0, "index": 0.0, "gain": 1.0, "attack": 0.1, "decay": 0.2, "sustain": 0.5}
    x = synth.spec.to_unit({**values, "release": 0.25}).reshape(1, -1)
    y = synth.render(x, sample_rate=SR, duration=1.0, note=Note.from_hz(500))[0].numpy()

    def peak(t0: float, t1: float) -> float:
        return float(np.abs(y[int(t0 * SR) : int(t1 * SR)]).max())

    assert peak(0.045, 0.05) == pytest.approx(0.5, abs=0.03)  # half-way up the 100 ms attack
    assert peak(0.098, 0.102) == pytest.approx(1.0, abs=0.01)
    assert peak(0.35, 0.5) == pytest.approx(0.5, abs=0.01)  # sustain
    assert peak(0.62, 0.63) == pytest.approx(0.25, abs=0.03)  # half-way through the release
    assert peak(0.76, 1.0) == 0.0


def test_batch_equals_single_and_is_deterministic():
    synth = FM2()
    x = synth.sample(6, torch.Generator().manual_seed(3))
    batch = synth.render(x, sample_rate=SR, duration=0.25)
    singles = torch.cat([synth.render(x[i : i + 1], sample_rate=SR, duration=0.25) for i in range(6)])
    assert batch.shape == (6, 4000) and batch.dtype == torch.float32
    assert torch.allclose(batch, singles, atol=1e-6)
    assert torch.equal(batch, synth.render(x, sample_rate=SR, duration=0.25))


def test_gradients_are_finite_and_nonzero():
    synth = FM2()
    x = synth.sample(4, torch.Generator().manual_seed(0)).requires_grad_(True)
    y = synth.render(x, sample_rate=SR, duration=0.5)
    y.square().mean().backward()
    assert torch.isfinite(x.grad).all()
    assert (x.grad.abs().sum(dim=0) > 0).sum() >= synth.dim - 1


def test_stages_expose_modulator_and_output():
    synth = FM2()
    x = synth.sample(2, torch.Generator().manual_seed(1))
    stages = synth.stages(x, sample_rate=SR, duration=0.1)
    assert list(stages) == ["modulator", "output"]
    assert torch.equal(stages["output"], synth.render(x, sample_rate=SR, duration=0.1))
