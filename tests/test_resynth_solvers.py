"""ddx7 / hpn: features, training lowers the loss, cached fits, held-out scoring, control scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.run.solve import score
from losses.mss import MultiScaleSpectral
from solvers import resynthesis
from solvers.base import Budget, Problem, Target, Task
from solvers.ddx7 import DDX7
from solvers.hpn import HPN
from solvers.resynthesis import control_features, fill_unvoiced
from soundmatch.errors import UserError
from synths.base import Note
from synths.dx7.synth import DX7
from synths.harmonic_noise import HarmonicNoise

SR, DUR = 16000, 0.25


def tone(hz: float, seconds: float = DUR, amp: float = 0.3) -> torch.Tensor:
    t = torch.arange(int(SR * seconds)) / SR
    env = torch.clamp(t / 0.05, max=1.0)
    return (amp * env * (torch.sin(2 * np.pi * hz * t) + 0.3 * torch.sin(4 * np.pi * hz * t))).float()


def corpus() -> list[Target]:
    pitches = [57, 60, 64, 67]
    return [
        Target(tone(Note(p).hz), SR, f"tone{p}", Note(p), meta={"source": f"tone{p}.wav"}) for p in pitches
    ]


@pytest.fixture
def known_pitch(monkeypatch):
    """pYIN replaced by each tone's known f0 (pYIN itself is tested in test_features_*)."""

    def track(audio, sample_rate):
        spec = np.abs(np.fft.rfft(audio))
        hz = float(np.argmax(spec)) * sample_rate / len(audio)
        frames = 1 + len(audio) // 256
        return np.full(frames, hz), np.ones(frames, bool)

    monkeypatch.setattr(resynthesis, "pyin_track", track)
    monkeypatch.setattr(resynthesis, "_feature_cache", {})


def task(synth, tmp_path=None) -> Task:
    suite = corpus()
    return Task(synth, MultiScaleSpectral(SR, fft_sizes=[512, 128]), SR, DUR, Note(60), "cpu", tmp_path,
                lambda options: suite)  # fmt: skip


def test_features_pitch_and_a_weighted_loudness(tmp_path):
    audio = 0.5 * torch.sin(2 * np.pi * 1000.0 * torch.arange(SR // 4) / SR)
    f0, loud = control_features(audio, SR, Note(69), tmp_path)
    assert f0.shape == loud.shape == (1 + SR // 4 // 256,)
    cents = 1200 * np.log2(f0[4:-4].numpy() / 1000.0)
    assert np.abs(cents).max() < 10
    # A-weighting is 0 dB at 1 kHz; a sine of amplitude 0.5 has mean square 1/8 (-9.03 dB)
    assert float(loud[4:-4].mean()) == pytest.approx(-9.03, abs=0.3)
    assert list((tmp_path / "features").glob("*.pt"))  # cached per clip
    assert fill_unvoiced(np.array([1.0, np.nan, 3.0, 4.0]), np.array([1, 0, 0, 1]), 9.0).tolist() == [
        1.0, 1.0, 4.0, 4.0,
    ]  # fmt: skip
    assert fill_unvoiced(np.array([1.0, 2.0]), np.array([0, 0]), 9.0).tolist() == [9.0, 9.0]


@pytest.mark.parametrize(
    "make_solver, synth",
    [
        (lambda **kw: HPN(hidden=16, batch_size=4, lr=1e-2, **kw),
         HarmonicNoise(n_harmonics=8, n_noise_bands=9)),
        (lambda **kw: DDX7(hidden=16, layers=2, batch_size=4, lr=1e-2, **kw),
         DX7(algorithm=16, feedback=0, ratios=[1, 1, 1, 2, 2, 1.5], lfo=False, pitch_eg=False)),
    ],
)  # fmt: skip
def test_training_lowers_the_loss_and_the_fit_is_cached(tmp_path, known_pitch, make_solver, synth):
    t = task(synth, tmp_path)
    one = make_solver(steps=1).fit(t)
    many_solver = make_solver(steps=15, reverb=True)
    many = many_solver.fit(t)
    assert many["training_final_loss"] < 0.8 * one["training_final_loss"]
    assert many["model_parameters"] == many_solver.parameter_count() > 0
    again = make_solver(steps=15, reverb=True)
    assert again.fit(t)["fit_from_cache"] == 1.0 and many["fit_from_cache"] == 0.0
    for a, b in zip(
        again.decoder.state_dict().values(), many_solver.decoder.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)


def test_held_out_scoring_and_the_runner_renders_the_controls(known_pitch):
    synth = HarmonicNoise(n_harmonics=8, n_noise_bands=9)
    solver = HPN(hidden=16, steps=2, batch_size=2)
    solver.fit(task(synth))
    trained = corpus()[0]
    unseen = Target(tone(300.0), SR, "unseen", Note.from_hz(300.0), meta={"source": "other.wav"})
    assert [t.name for t in solver.held_out([trained, unseen])] == ["unseen"]
    loss = MultiScaleSpectral(SR, fft_sizes=[512, 128])
    with pytest.raises(UserError, match="training data"):
        solver.solve(Problem(synth, trained, loss, Budget(5)))
    problem = Problem(synth, unseen, loss, Budget(5))
    result = solver.solve(problem)
    assert problem.renders == 1 and problem.best_controls is not None
    values, audio = score(problem, result.x, [], result.controls)
    # what the runner scores is the controls' render, with the loss the solver spent its render on
    assert values["loss"] == pytest.approx(problem.best_loss, rel=1e-5)
    static = float(problem.loss_of(result.x.unsqueeze(0))[0])
    assert abs(static - values["loss"]) > 1e-3
    assert audio.shape == (int(SR * DUR),)


def test_user_errors(known_pitch):
    with pytest.raises(UserError, match="train split"):
        DDX7(train_suite={"name": "gm_notes"})
    with pytest.raises(UserError, match="dx7_flute"):
        DDX7().fit(task(HarmonicNoise()))
    with pytest.raises(UserError, match="harmonic_noise"):
        HPN().fit(task(DX7(algorithm=16, ratios=[1] * 6)))
