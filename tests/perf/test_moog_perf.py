"""Benchmarks (pytest-benchmark) of the moog synth: batch 64 x 4 s at 16 kHz, full modular chain.

Run with ``.venv/bin/pytest tests/perf/test_moog_perf.py --benchmark-enable --benchmark-only``;
``make test`` skips them. ``extra_info["x_realtime"]`` is seconds of audio rendered
per second of wall time (64 x 4 s = 256 s of audio per call).
"""

from __future__ import annotations

import pytest
import torch

from synths.moog import Moog

SR = 16000
BATCH = 64
DURATION = 4.0


@pytest.fixture(scope="module")
def modular():
    synth = Moog(chain="modular")
    return synth, synth.sample(BATCH, torch.Generator().manual_seed(0))


def _report(benchmark, out) -> None:
    assert out.shape == (BATCH, int(SR * DURATION))
    benchmark.extra_info["x_realtime"] = BATCH * DURATION / benchmark.stats.stats.mean


def test_moog_modular_forward_batch64_4s(benchmark, modular):
    synth, x = modular

    def render():
        with torch.no_grad():
            return synth.render(x, sample_rate=SR, duration=DURATION)

    out = benchmark.pedantic(render, rounds=3, warmup_rounds=1)
    assert torch.isfinite(out).all()
    _report(benchmark, out)


def test_moog_modular_forward_backward_batch64_4s(benchmark, modular):
    """Render, a spectral-ish loss on the output (mean square of a 1024-point STFT), backward."""
    synth, x = modular
    window = torch.hann_window(1024)

    def step():
        params = x.clone().requires_grad_()
        out = synth.render(params, sample_rate=SR, duration=DURATION)
        spec = torch.stft(out, 1024, 256, window=window, return_complex=True).abs()
        spec.mean().backward()
        assert params.grad is not None and torch.isfinite(params.grad).all()
        return out.detach()

    out = benchmark.pedantic(step, rounds=3, warmup_rounds=1)
    _report(benchmark, out)
