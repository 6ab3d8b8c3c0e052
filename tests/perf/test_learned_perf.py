"""Benchmarks (pytest-benchmark) of the learned solvers: what one target costs them.

- ``encoder_inference``: the encoder's forward pass for one 1 s target at 16 kHz
  (log-mel + CNN or GRU + heads, fm2's 8 parameters), untrained weights (the
  cost does not depend on them).
- ``encoder_train_step``: one ``ploss`` training step, batch 32 (render + forward
  + backward + Adam).
- ``implicit_fm_step``: one Adam step of the implicit FM net on a 1 s target at
  16 kHz (value_and_grad through the Problem, l2 loss): its cost per render.

    .venv/bin/pytest tests/perf/test_learned_perf.py --benchmark-enable --benchmark-only -p no:cacheprovider
"""

from __future__ import annotations

import pytest
import torch

from losses.l2 import L2
from losses.mss import MultiScaleSpectral
from solvers.base import Budget, Problem, Target, Task
from solvers.encoder import Encoder
from solvers.encoder_net import parameter_loss
from solvers.implicit_fm import ImplicitFMSolver
from synths.base import Note
from synths.fm2 import FM2
from synths.implicit_fm import ImplicitFM

SR, DURATION = 16000, 1.0
pytestmark = pytest.mark.perf


@pytest.mark.parametrize("backbone", ["cnn", "gru"])
def test_encoder_inference(benchmark, backbone):
    enc = Encoder(backbone=backbone)
    task = Task(FM2(), MultiScaleSpectral(SR), SR, DURATION, Note(60))
    enc.net = enc.build_net(task).eval()
    audio = FM2().render(FM2().sample(1, torch.Generator().manual_seed(0)), sample_rate=SR, duration=DURATION)
    x = benchmark(enc.predict, audio)
    assert x.shape == (1, FM2().dim)


def test_encoder_train_step(benchmark):
    enc = Encoder()
    task = Task(FM2(), MultiScaleSpectral(SR), SR, DURATION, Note(60))
    net = enc.build_net(task)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)

    def step():
        x = FM2().sample(32, gen)
        with torch.no_grad():
            audio = FM2().render(x, sample_rate=SR, duration=DURATION, note=Note(60))
        loss = parameter_loss(net(audio), x, net.continuous)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.detach())

    benchmark(step)


def test_implicit_fm_step(benchmark):
    synth = ImplicitFM()
    x = synth.sample(1, torch.Generator().manual_seed(0))
    audio = synth.render(x, sample_rate=SR, duration=DURATION)[0]
    problem = Problem(synth, Target(audio, SR, "t"), L2(SR), Budget(renders=10**6))
    solver = ImplicitFMSolver(steps=1)
    benchmark(solver.solve, problem)
    assert problem.renders >= 1
