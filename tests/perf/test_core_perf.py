"""Benchmarks (pytest-benchmark) of the foundation: fm2 forward render.

Run with ``make bench``; ``make test`` skips them.
"""

import torch

from synths.fm2 import FM2

SR = 16000


def test_fm2_forward_batch64_1s(benchmark):
    synth = FM2()
    x = synth.sample(64, torch.Generator().manual_seed(0))

    def render():
        with torch.no_grad():
            return synth.render(x, sample_rate=SR, duration=1.0)

    out = benchmark(render)
    assert out.shape == (64, SR)
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info["x_realtime"] = 64 * 1.0 / seconds
