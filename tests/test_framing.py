"""Overlap-add against torch's fold, and its gradient."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from soundmatch.framing import overlap_add


@pytest.mark.parametrize("length, hop", [(64, 16), (64, 64), (48, 16), (50, 16), (8, 3)])
def test_overlap_add_equals_fold(length: int, hop: int) -> None:
    frames = torch.randn(3, 7, length, dtype=torch.float64)
    total = 6 * hop + length
    expected = F.fold(frames.transpose(1, 2), (1, total), kernel_size=(1, length), stride=(1, hop))
    assert torch.allclose(overlap_add(frames, hop), expected.reshape(3, total))


def test_overlap_add_is_differentiable() -> None:
    frames = torch.randn(2, 5, 32, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f: overlap_add(f, 8), (frames,))
