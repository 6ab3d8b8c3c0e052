"""Benchmarks (pytest-benchmark) of target loading and evaluation metrics.

Run with ``.venv/bin/pytest tests/perf/test_targets_perf.py --benchmark-enable --benchmark-only``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from benchmark.run.audio import load_audio
from metrics.base import Evaluation, metric_registry
from synths.fm2 import FM2

SR = 16000


@pytest.fixture(scope="module")
def ten_minute_file(tmp_path_factory) -> Path:
    """A 10-minute stereo 48 kHz 16-bit WAV (about 110 MB)."""
    path = tmp_path_factory.mktemp("long") / "ten_minutes_stereo_48k.wav"
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", 48000, 2, subtype="PCM_16") as fh:
        for _ in range(10):  # one minute at a time
            fh.write((0.1 * rng.standard_normal((48000 * 60, 2))).astype(np.float32))
    return path


def test_load_1s_target_from_10min_stereo_48k(benchmark, ten_minute_file: Path) -> None:
    out = benchmark(load_audio, ten_minute_file, SR, 1.0, 300.0)
    assert out.shape == (SR,)


def test_load_whole_10min_stereo_48k_to_16k_mono(benchmark, ten_minute_file: Path) -> None:
    out = benchmark.pedantic(load_audio, (ten_minute_file, SR, None), rounds=2, iterations=1)
    assert out.shape == (600 * SR,)


def test_fm2_render_1s_for_comparison(benchmark) -> None:
    synth = FM2()
    x = synth.sample(1, torch.Generator().manual_seed(0))

    def render():
        with torch.no_grad():
            return synth.render(x, sample_rate=SR, duration=1.0)

    assert benchmark(render).shape == (1, SR)


@pytest.mark.parametrize(
    "name",
    ["lsd", "mss", "mfcc_dist", "pitch_error_cents", "spectral_centroid_error", "loudness_envelope_error"],
)
def test_metric_per_target_1s(benchmark, name: str) -> None:
    t = np.arange(SR) / SR
    target = (0.5 * np.sin(2 * np.pi * 261.6 * t) * np.exp(-3 * t)).astype(np.float32)
    pred = (0.4 * np.sin(2 * np.pi * 265.0 * t) * np.exp(-2 * t)).astype(np.float32)
    metric = metric_registry.get(name)
    ev = Evaluation(pred, target, SR)
    metric(ev)  # warm caches (the target's pitch track is computed once per target)
    value = benchmark(metric, ev)
    assert value is not None and np.isfinite(value)


def test_fad_crepe_8_matches_8_targets_1s(benchmark) -> None:
    t = np.arange(SR) / SR
    targets = [(0.5 * np.sin(2 * np.pi * 110 * 2 ** (k / 4) * t)).astype(np.float32) for k in range(8)]
    preds = [(0.5 * np.sin(2 * np.pi * 112 * 2 ** (k / 4) * t)).astype(np.float32) for k in range(8)]
    fad = metric_registry.create("fad")
    value = benchmark.pedantic(fad, (preds, targets, SR), rounds=2, iterations=1)
    assert value > 0
