"""Benchmarks (pytest-benchmark): real-time factor of the ddx7 and hpn decoders + synths on CPU.

One 4 s clip at 16 kHz (250 control frames of 16 ms), default sizes (ddx7: TCN
64 channels x 4 layers driving dx7_flute; hpn: GRU 128 driving harmonic_noise with
60 partials and 65 noise bands), untrained weights (the cost does not depend on
them): decoder forward + synth render, no gradients. The real-time factor
(seconds of compute per second of audio) is stored in ``extra_info["rtf"]``.

    .venv/bin/pytest tests/perf/test_resynth_perf.py --benchmark-enable --benchmark-only -p no:cacheprovider
"""

from __future__ import annotations

import pytest
import torch

from losses.mss import MultiScaleSpectral
from solvers.base import Task
from solvers.ddx7 import DDX7
from solvers.hpn import HPN
from solvers.resynthesis import network_inputs
from synths.dx7.synth import DX7
from synths.harmonic_noise import HarmonicNoise, control_hop

SR, SECONDS = 16000, 4.0
pytestmark = pytest.mark.perf

FLUTE = dict(algorithm=16, feedback=0, ratios=[1, 1, 1, 2, 2, 1.5], pitch_eg=False, lfo=False)


@pytest.mark.parametrize("solver_name", ["ddx7", "hpn"])
def test_resynthesis_real_time_factor(benchmark, solver_name):
    solver, synth = (DDX7(), DX7(**FLUTE)) if solver_name == "ddx7" else (HPN(), HarmonicNoise())
    task = Task(synth, MultiScaleSpectral(SR), SR, SECONDS)
    decoder = solver.build_decoder(task).eval()
    frames = int(SR * SECONDS) // control_hop(SR) + 1
    f0 = torch.full((1, frames), 440.0)
    inputs = network_inputs(f0, torch.full((1, frames), -20.0))

    def resynthesise():
        with torch.no_grad():
            controls = solver.controls(synth, decoder(inputs), f0)
            return synth.render_controls(controls, sample_rate=SR, duration=SECONDS)

    audio = benchmark(resynthesise)
    assert audio.shape == (1, int(SR * SECONDS)) and bool(torch.isfinite(audio).all())
    benchmark.extra_info["rtf"] = benchmark.stats.stats.mean / SECONDS
    benchmark.extra_info["parameters"] = sum(p.numel() for p in decoder.parameters())
