"""implicit_fm: the net's physics, stereo detune, the per-target solver, and the render run_id= mode."""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from benchmark.render.command import render_cli
from losses.l2 import L2
from solvers.base import Budget, Problem, Target
from solvers.implicit_fm import ImplicitFMSolver
from soundmatch.errors import UserError
from synths.base import Note
from synths.fm2 import FM2
from synths.implicit_fm import ImplicitFM

SR = 16000


def one_carrier(synth: ImplicitFM, node: int, gain_db: float) -> torch.Tensor:
    """Unit params: carrier ``node`` alone (logit +10 vs -10), flat envelope, modulation ~ off."""
    k = synth.n_nodes
    g = {
        "carrier_detune": torch.zeros(1, k),
        "modulator_detune": torch.zeros(1, k),
        "carrier_weight": torch.full((1, k), -10.0),
        "modulator_weight": torch.zeros(1, k),
        "carrier_env_rate": torch.full((1, k), -6.0),  # s ~ 0.25: flat within 1%
        "carrier_env_offset": torch.zeros(1, k),
        "modulator_env_rate": torch.full((1, k), 6.0),  # s ~ 254, peak at the very start: E < 0.01 after
        "modulator_env_offset": torch.full((1, k), 6.0),
        "phase": torch.zeros(1),
        "gain": torch.tensor([gain_db]),
    }
    g["carrier_weight"][0, node - 1] = 10.0
    return synth.to_unit(synth.join(g))


def peak_hz(audio: np.ndarray, sample_rate: int) -> float:
    spec = np.abs(np.fft.rfft(audio * np.hanning(len(audio)), n=8 * len(audio)))
    return float(np.argmax(spec)) * sample_rate / (8 * len(audio))


def test_one_carrier_is_a_sine_at_its_midi_pitch_with_its_gain():
    synth = ImplicitFM()
    x = one_carrier(synth, 69, -6.0)
    y = synth.render(x, sample_rate=SR, duration=0.5)[0].numpy()
    assert abs(peak_hz(y[SR // 10 :], SR) - 440.0) < 0.5
    weight = 1.0 / (1.0 + 126 * math.exp(-20.0))
    assert np.sqrt(np.mean(y[SR // 10 :] ** 2)) == pytest.approx(
        10 ** (-6 / 20) * weight / math.sqrt(2), rel=0.02
    )
    stereo = synth.render_stereo(x, sample_rate=48000, duration=1.0, detune=0.01)[0].numpy()
    assert stereo.shape == (2, 48000)
    assert abs(peak_hz(stereo[0], 48000) - 440.0 * 1.01) < 0.3
    assert abs(peak_hz(stereo[1], 48000) - 440.0 / 1.01) < 0.3


def test_nodes_above_nyquist_are_silent():
    synth = ImplicitFM()
    x = one_carrier(synth, 124, 0.0)  # 10548 Hz, above 8 kHz Nyquist
    assert synth.render(x, sample_rate=SR, duration=0.1).abs().max() < 1e-3
    assert synth.render(x, sample_rate=48000, duration=0.1).abs().max() > 0.5


def test_gradients_reach_every_group():
    synth = ImplicitFM()
    x = synth.sample(1, torch.Generator().manual_seed(1)).requires_grad_(True)
    synth.render(x, sample_rate=8000, duration=0.1).square().mean().backward()
    g = synth.split(x.grad)
    for name, grad in g.items():
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0, name


def test_spikiness_sharpens_the_softmax():
    synth = ImplicitFM()
    solver = ImplicitFMSolver(spikiness=1.0)
    raw = synth.to_raw(synth.sample(1, torch.Generator().manual_seed(2)))
    grad = synth.split(solver.spikiness_grad(synth, raw))["carrier_weight"]
    top = int(synth.split(raw)["carrier_weight"].argmax())
    assert grad[0, top] < 0  # descending the objective raises the largest logit
    assert grad[0, top] == grad.min()


def test_solver_lowers_l2_within_budget_and_refuses_other_synths():
    synth = ImplicitFM()
    x = synth.sample(1, torch.Generator().manual_seed(3))
    audio = synth.render(x, sample_rate=8000, duration=0.1)[0]
    problem = Problem(synth, Target(audio, 8000, "t"), L2(8000), Budget(renders=6))
    ImplicitFMSolver(lr=0.05).solve(problem)
    assert problem.renders == 6
    assert problem.curve[-1].best_loss < problem.curve[0].best_loss
    fm = Problem(FM2(), Target(audio, 8000, "t", Note(60)), L2(8000), Budget(renders=2))
    with pytest.raises(UserError, match="synth=implicit_fm"):
        ImplicitFMSolver().solve(fm)


def median_f0(path, fmin: float = 60.0, fmax: float = 1000.0, resolution: float = 0.1) -> list[float]:
    """Median pYIN f0 (Hz) of each channel; ``resolution`` in semitones (0.01: 1-cent bins)."""
    audio, sr = sf.read(str(path), always_2d=True)
    out = []
    for channel in audio.T:
        f0, voiced, _ = librosa.pyin(
            channel, fmin=fmin, fmax=fmax, sr=sr, frame_length=4096 * sr // 48000, resolution=resolution
        )
        out.append(float(np.nanmedian(f0[voiced])))
    return out


def test_render_run_id_stretched_detuned_stereo_keeps_pitch(main_cli, workdir):
    done = main_cli(
        "run",
        "solver=implicit_fm",
        "synth=implicit_fm",
        "loss=l2",
        "target.n=1",
        "duration=0.5",
        "budget.renders=2",
        "metrics=[lsd]",
        "progress=false",
    )
    assert done.returncode == 0, done.stderr
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workdir / 'results' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("soundmatch")
    (run,) = client.search_runs([exp.experiment_id], "tags.`soundmatch.level` = 'target'")
    rid = run.info.run_id
    plain, stretched = workdir / "plain.wav", workdir / "stretched.wav"
    results = f"results_dir={workdir / 'results'}"
    assert render_cli([f"run_id={rid}", f"out={plain}", results]) == 0
    args = [f"run_id={rid}", "sample_rate=48000", "stretch=2.0", "detune=0.005", f"out={stretched}", results]
    assert render_cli(args) == 0
    info = sf.info(str(stretched))
    assert (info.channels, info.samplerate, info.frames) == (2, 48000, 48000)
    assert sf.info(str(plain)).frames == 8000
    (rough, _) = median_f0(plain)
    # 1-cent pYIN bins around the pitch: the default 10-cent bins are too coarse for a 10-cent check
    precise = {"fmin": rough / 1.3, "fmax": rough * 1.3, "resolution": 0.01}
    (ref, _) = median_f0(plain, **precise)
    for f0 in median_f0(stretched, **precise):
        assert abs(1200 * math.log2(f0 / ref)) < 10.0
    with pytest.raises(UserError, match="no run"):
        render_cli(["run_id=0123456789abcdef", f"out={plain}", results])
    parent = run.data.tags["mlflow.parentRunId"]  # the id `run` prints: named, with its target runs
    with pytest.raises(UserError, match=f"is a run's parent; give one of its target runs: {rid}"):
        render_cli([f"run_id={parent}", f"out={plain}", results])
