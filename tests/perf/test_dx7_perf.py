"""Benchmarks (pytest-benchmark) of the dx7 engine against Dexed: batch 64 x 4 s at 16 kHz, all features on.

Run: ``.venv/bin/pytest tests/perf/test_dx7_perf.py --benchmark-enable --benchmark-only -p no:cacheprovider``;
``make test`` skips them. Every patch has feedback, a non-flat pitch EG, LFO pitch and
amplitude modulation, a fixed-frequency operator and note-off at 3 s.

``extra_info``: ``voices_per_s``; in the forward benchmark also ``dexed_voices_per_s``
(dexed-py rendering the same 64 voices one after another in the same test,
best of the same number of rounds) and ``speed_vs_dexed`` (>= 1.0 is the goal);
in the backward benchmark ``backward_over_forward`` = (forward+backward - forward)
/ forward, forward timed in the same test (<= 3.0 is the goal).

The dx7 benchmarks run twice: with torch's default thread count and with one
thread (``threads1``), the like-for-like comparison with Dexed, which renders on
one thread. On a busy machine torch's OpenMP threads spin-wait after each
parallel op and starve the engine's kernel threads; ``OMP_WAIT_POLICY=PASSIVE``
(set before Python starts) avoids that (measured on a 2-core machine at load ~25:
2 threads 0.33 s per batch with it, 2.4 s without; 1 thread 0.33 s).
"""

from __future__ import annotations

import time

import pytest
import torch

from synths.base import Note
from synths.dx7.synth import DX7

SR = 16000
BATCH = 64
DURATION = 4.0
HOLD = 3.0
NOTE = Note(60, 100)
ROUNDS = 5


@pytest.fixture(scope="module")
def patches():
    synth = DX7(hold=HOLD)
    gen = torch.Generator().manual_seed(0)
    voices = [synth.unit_to_voice(x) for x in synth.sample(BATCH, gen)]
    for i, v in enumerate(voices):  # every feature on in every voice
        v.feedback = 3 + i % 5
        v.pitch_levels, v.pitch_rates = [60, 45, 50, 52], [80, 60, 70, 50]
        v.lfo_pmd, v.lfo_amd, v.pitch_mod_sens, v.lfo_speed = 10, 15, 3, 35
        v.ops[5].mode, v.ops[5].coarse, v.ops[5].fine = 1, 2, 50
        for op in v.ops:
            op.amp_mod_sens = 1
    x = torch.stack([synth.voice_to_unit(v) for v in voices])
    return synth, x, voices


def _render(synth, x):
    with torch.no_grad():
        return synth.render(x, sample_rate=SR, duration=DURATION, note=NOTE)


def _best_seconds(fn, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _dexed_renderer():
    pytest.importorskip("dexed")
    from synths.dx7.reference import DexedRenderer

    return DexedRenderer()


@pytest.fixture(params=["threads1", "default"])
def threads(request):
    """Run a benchmark with one torch thread (the engine's kernels follow) or the default count."""
    before = torch.get_num_threads()
    if request.param == "threads1":
        torch.set_num_threads(1)
    yield torch.get_num_threads()
    torch.set_num_threads(before)


def test_dx7_forward_batch64_4s(benchmark, patches, threads):
    synth, x, voices = patches
    benchmark.extra_info["threads"] = threads
    out = benchmark.pedantic(lambda: _render(synth, x), rounds=ROUNDS, warmup_rounds=1)
    assert out.shape == (BATCH, int(SR * DURATION)) and torch.isfinite(out).all()
    ours = benchmark.stats.stats.min
    benchmark.extra_info["voices_per_s"] = BATCH / ours
    benchmark.extra_info["x_realtime"] = BATCH * DURATION / ours
    try:
        dexed = _dexed_renderer()
    except pytest.skip.Exception:
        return

    def dexed_batch():
        for v in voices:
            dexed.render(v, pitch=60, velocity=100, hold=HOLD, duration=DURATION, sample_rate=SR)

    dexed_batch()
    theirs = _best_seconds(dexed_batch, ROUNDS)
    benchmark.extra_info["dexed_voices_per_s"] = BATCH / theirs
    benchmark.extra_info["speed_vs_dexed"] = theirs / ours


def test_dexed_batch64_4s(benchmark, patches):
    _, _, voices = patches
    dexed = _dexed_renderer()

    def dexed_batch():
        return [
            dexed.render(v, pitch=60, velocity=100, hold=HOLD, duration=DURATION, sample_rate=SR)
            for v in voices
        ]

    out = benchmark.pedantic(dexed_batch, rounds=ROUNDS, warmup_rounds=1)
    assert len(out) == BATCH
    benchmark.extra_info["voices_per_s"] = BATCH / benchmark.stats.stats.min


def test_dx7_forward_backward_batch64_4s(benchmark, patches, threads):
    """Render with gradients, the mean square of the output as loss, backward to the unit parameters."""
    synth, x, _ = patches
    benchmark.extra_info["threads"] = threads
    quantize_free = DX7(hold=HOLD, quantize=False)

    def step():
        params = x.clone().requires_grad_()
        out = quantize_free.render(params, sample_rate=SR, duration=DURATION, note=NOTE)
        out.pow(2).mean().backward()
        return params.grad

    grad = benchmark.pedantic(step, rounds=ROUNDS, warmup_rounds=1)
    assert torch.isfinite(grad).all()
    both = benchmark.stats.stats.min
    forward = _best_seconds(lambda: _render(quantize_free, x), ROUNDS)
    benchmark.extra_info["voices_per_s"] = BATCH / both
    benchmark.extra_info["forward_s"] = forward
    benchmark.extra_info["backward_over_forward"] = (both - forward) / forward
