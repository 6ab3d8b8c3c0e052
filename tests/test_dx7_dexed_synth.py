"""synth=dexed: the dx7 parameter space rendered by Dexed itself, for black-box solvers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.studies.fidelity_voices import fidelity_voices
from losses.l2 import L2
from solvers.base import Budget, Problem, Target, solver_registry
from soundmatch.errors import UserError
from synths.base import Note, synth_registry
from synths.dx7.reference import DexedRenderer

pytest.importorskip("dexed")


def test_same_parameter_space_as_dx7() -> None:
    dexed_synth = synth_registry.create("dexed", algorithm=5)
    dx7 = synth_registry.create("dx7", algorithm=5)
    assert dexed_synth.differentiable is False and dx7.differentiable is True
    assert dexed_synth.spec == dx7.spec
    voice = fidelity_voices()[0]
    torch.testing.assert_close(dexed_synth.voice_to_unit(voice), dx7.voice_to_unit(voice))


def test_renders_each_row_with_dexed() -> None:
    synth = synth_registry.create("dexed", algorithm=5, hold=0.4)
    x = synth.sample(3, torch.Generator().manual_seed(0))
    audio = synth.render(x, sample_rate=16000, duration=0.5, note=Note(57.0, 90))
    assert audio.shape == (3, 8000) and audio.dtype == torch.float32
    renderer = DexedRenderer()
    for row, out in zip(x, audio, strict=True):
        ref = renderer.render(
            synth.unit_to_voice(row), pitch=57, velocity=90, hold=0.4, duration=0.5, sample_rate=16000
        )
        np.testing.assert_array_equal(out.numpy(), ref)
    assert torch.equal(audio, synth.render(x, sample_rate=16000, duration=0.5, note=Note(57.0, 90)))


def test_fractional_pitch_is_a_user_error() -> None:
    synth = synth_registry.create("dexed")
    with pytest.raises(UserError, match="note pitch 60.5 cannot be played by Dexed"):
        synth.render(torch.full((1, synth.dim), 0.5), sample_rate=16000, duration=0.1, note=Note(60.5))


def test_black_box_solver_matches_against_dexed() -> None:
    """CMA-ES spends its budget on Dexed renders; gradients are refused with a clear message."""
    synth = synth_registry.create("dexed", algorithm=32)
    truth = synth.sample(1, torch.Generator().manual_seed(1))[0]
    audio = synth.render(truth[None], sample_rate=8000, duration=0.25, note=Note())[0]
    target = Target(audio=audio, sample_rate=8000, name="t", note=Note(), params=truth)
    problem = Problem(synth, target, L2(sample_rate=8000), Budget(renders=40), seed=0)
    with pytest.raises(UserError, match="has no gradients"):
        problem.value_and_grad(truth[None])
    solver = solver_registry.create("cma")
    try:
        solver.solve(problem)
    except Exception as err:  # the budget ends the search
        assert type(err).__name__ == "BudgetExhausted"
    assert problem.renders == 40 and problem.best_loss < float("inf")
