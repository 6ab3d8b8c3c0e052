"""Speed of the mss loss's value and gradient against auraloss's same loss on the same input.

Run: ``.venv/bin/pytest tests/perf/test_losses_perf.py --benchmark-enable --benchmark-only``.
The issue's goal: ours (target spectra cached by ``bind``) at least 3x faster than
auraloss's MultiResolutionSTFTLoss(w_sc=0, w_lin_mag=1, w_log_mag=1) with the
same FFT sizes, hops and windows, at batch 16 x 4 s (16 kHz).
"""

from __future__ import annotations

import pytest
import torch
from auraloss_reference import auraloss_mss

from losses.base import loss_registry

pytestmark = pytest.mark.perf

SR = 16000
FFTS = [2048, 1024, 512, 256, 128, 64]


def _inputs(seconds: float) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    n = int(SR * seconds)
    return torch.randn(16, n, generator=g) * 0.3, torch.randn(1, n, generator=g) * 0.3


def _ours(seconds: float):
    pred, target = _inputs(seconds)
    bound = loss_registry.create("mss", sample_rate=SR).bind(target)

    def step():
        x = pred.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(bound(x).sum(), x)
        return grad

    return step


@pytest.mark.benchmark(group="mss value+grad, batch 16 x 4 s")
def test_mss_value_and_grad_16x4s(benchmark):
    benchmark.pedantic(_ours(4.0), rounds=5, warmup_rounds=1)


@pytest.mark.benchmark(group="mss value+grad, batch 16 x 4 s")
def test_auraloss_value_and_grad_16x4s(benchmark):
    ref = auraloss_mss(FFTS)
    pred, target = _inputs(4.0)
    targets = target.expand(16, -1).unsqueeze(1)

    def step():
        x = pred.clone().unsqueeze(1).requires_grad_(True)
        (grad,) = torch.autograd.grad(ref(x, targets), x)
        return grad

    benchmark.pedantic(step, rounds=5, warmup_rounds=1)


@pytest.mark.benchmark(group="mss value+grad, batch 16 x 1 s")
def test_mss_value_and_grad_16x1s(benchmark):
    benchmark.pedantic(_ours(1.0), rounds=10, warmup_rounds=1)
