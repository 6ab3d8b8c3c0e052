"""Every registered synth keeps the contract a solver relies on: a row's sound depends on its
parameters only (not on the batch it is rendered in, nor on when), with the shape and type promised."""

from __future__ import annotations

import pytest
import torch

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
