"""Every registered synth and loss keeps the contract a solver relies on: a row's sound depends on its
parameters only (not on the batch it is rendered in, nor on when), with the shape and type promised."""

from __future__ import annotations

import pytest
import torch

from losses.base import loss_registry
from synths.base import Note, synth_registry

SR, SECONDS = 8000, 0.25


def _synth(name: str):
    if name == "dexed":
        pytest.importorskip("dexed")
    return synth_registry.create(name)


@pytest.mark.parametrize("name", synth_registry.names())
def test_a_row_sounds_the_same_in_any_batch_and_at_any_time(name):
    synth = _synth(name)
    x = synth.sample(3, torch.Generator().manual_seed(0))
    kwargs = dict(sample_rate=SR, duration=SECONDS, note=Note(57.0))
    with torch.no_grad():
        batch = synth.render(x, **kwargs)
        repeated = synth.render(x[[2, 2, 0]], **kwargs)  # row 2 at rows 0 and 1, row 0 at row 2
        alone = synth.render(x[2:3], **kwargs)
        again = synth.render(x, **kwargs)
    assert batch.shape == (3, int(SR * SECONDS)) and batch.dtype == torch.float32
    assert torch.isfinite(batch).all()
    torch.testing.assert_close(repeated[0], batch[2], atol=1e-5, rtol=0)
    torch.testing.assert_close(repeated[1], batch[2], atol=1e-5, rtol=0)
    torch.testing.assert_close(repeated[2], batch[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(alone[0], batch[2], atol=1e-5, rtol=0)
    torch.testing.assert_close(again, batch, atol=0, rtol=0)


def _differentiable(name: str):
    synth = _synth(name)
    if not synth.differentiable:
        pytest.skip(f"{name} renders without gradients (black-box solvers only)")
    return synth


@pytest.mark.parametrize("name", synth_registry.names())
def test_gradients_are_finite_over_the_unit_cube(name):
    """At random points and at the cube's corners and centre, every parameter gets a finite
    gradient, and the sound's gradient is not zero everywhere."""
    synth = _differentiable(name)
    corners = torch.stack([torch.zeros(synth.dim), torch.ones(synth.dim), torch.full((synth.dim,), 0.5)])
    x = torch.cat([synth.sample(3, torch.Generator().manual_seed(1)), corners]).requires_grad_(True)
    audio = synth.render(x, sample_rate=SR, duration=SECONDS, note=Note(57.0))
    audio.pow(2).mean(dim=-1).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", synth_registry.names())
def test_gradcheck_in_float64_on_a_short_clip(name):
    """The analytic gradient of the clip's power equals finite differences (torch.autograd.gradcheck),
    for every synth whose gradients are exact (not straight-through surrogates of integer steps)."""
    synth = _differentiable(name)
    if not synth.exact_gradients:
        pytest.skip(f"{name}'s gradients are approximate by design (see its exact_gradients comment)")
    x = synth.sample(1, torch.Generator().manual_seed(2)).double().clamp(0.05, 0.95).requires_grad_(True)

    def power(p):
        return synth.render(p, sample_rate=4000, duration=0.03, note=Note(57.0)).pow(2).sum()

    assert synth.render(x, sample_rate=4000, duration=0.03, note=Note(57.0)).dtype == torch.float64
    # envelopes run partly in float32 (time grids), so eps stays at 1e-5; rtol 2% still catches a
    # biased gradient (spectral_match's held weights were 7% off)
    assert torch.autograd.gradcheck(power, (x,), eps=1e-5, atol=1e-3, rtol=2e-2, fast_mode=True)


@pytest.mark.parametrize("name", loss_registry.names())
def test_every_loss_is_zero_on_identical_finite_on_silence_and_gradchecks(name):
    loss = build_loss(name)
    g = torch.Generator().manual_seed(0)
    a = (torch.rand(2, 2048, generator=g, dtype=torch.float64) - 0.5) * 0.5
    b = (torch.rand(2, 2048, generator=g, dtype=torch.float64) - 0.5) * 0.5
    silent = torch.zeros_like(a)
    assert loss(a, a).shape == (2,)
    torch.testing.assert_close(loss(a, a), torch.zeros(2, dtype=torch.float64), atol=1e-9, rtol=0)
    for pred, target in ((silent, silent), (silent, b), (a, silent)):
        assert torch.isfinite(loss(pred, target)).all()
    assert (loss(a, b) > 0).all()
    assert torch.autograd.gradcheck(
        lambda p: loss(p, b[:1]).sum(), (a[:1].clone().requires_grad_(True),), eps=1e-6, atol=1e-4, rtol=1e-3,
        fast_mode=True,
    )  # fmt: skip


def build_loss(name: str):
    import inspect

    factory = loss_registry.get(name)
    takes_rate = "sample_rate" in inspect.signature(factory).parameters
    return loss_registry.create(name, sample_rate=SR) if takes_rate else loss_registry.create(name)
