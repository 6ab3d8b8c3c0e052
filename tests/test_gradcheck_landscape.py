"""The gradcheck and landscape commands, end to end on tiny settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.cli.main import main
from benchmark.studies.gradcheck import Trials, bootstrap, parse_loss, score_chunk


def test_trials_follow_the_protocol():
    t = Trials.draw(2000, 0)
    assert 30.0 <= float(t.freq.min()) and float(t.freq.max()) <= 4000.0
    # log-uniform: the median is the geometric mean of the bounds
    assert float(t.freq.median()) == pytest.approx((30 * 4000) ** 0.5, rel=0.1)
    assert 10**-2.5 <= float(t.amplitude.min()) and float(t.amplitude.max()) <= 1.0
    assert set(t.direction.tolist()) == {-1.0, 1.0}


def test_bootstrap_interval_brackets_the_mean():
    scores = torch.tensor([1.0] * 70 + [0.0] * 30, dtype=torch.float64)
    acc = bootstrap(scores, torch.Generator().manual_seed(0))
    assert acc.mean == pytest.approx(0.7)
    assert 0.58 < acc.low < 0.7 < acc.high < 0.82


def test_spectral_ot_points_toward_the_target_on_sines():
    """Physics check: OT between single partials moves mass toward the target, so the sign is right."""
    trials = Trials.draw(24, 1)
    fd, sign = score_chunk(parse_loss("spectral_ot", 16000), "sine", trials, [300.0], 16000, 4000)
    assert float(fd[300.0].mean()) > 0.9 and float(sign[300.0].mean()) > 0.8


def test_diffmoog_protocol_draws_the_prediction_independently():
    trials = Trials.draw(200, 0)
    cents = (1200 * torch.log2(trials.pred_freq / trials.freq)).abs()
    assert float(cents.median()) > 1000  # independent log-uniform draws lie octaves apart
    fd, _ = score_chunk(parse_loss("spectral_ot", 16000), "sine", trials.chunk(0, 24), [600.0], 16000, 4000,
                        "diffmoog")
    assert float(fd[600.0].mean()) > 0.8  # moving a lone partial further away costs more transport


def test_published_values_are_shown_beside_the_diffmoog_rows():
    from benchmark.studies.gradcheck import StudyRow, published

    assert published(StudyRow("wasserstein_time", "square", "diffmoog"), [300.0, 600.0]) == "600c: 0.748"
    assert published(StudyRow("wasserstein_time", "square", "ours"), [600.0]) == "-"


def test_gradcheck_command_writes_table_and_mlflow_run(tmp_path, capsys):
    args = [
        "gradcheck",
        "losses=spectral_ot:scale=log",
        "waveforms=saw",
        "trials=6",
        "duration=0.1",
        f"results_dir={tmp_path}",
    ]
    assert main(args) == 0
    table = (tmp_path / "gradcheck.md").read_text()
    assert "| spectral_ot:scale=log | saw | ours |" in table and "grad sign 600c" in table
    assert "| spectral_ot:scale=log | saw | diffmoog |" in table and "published FD" in table
    assert (tmp_path / "mlflow.db").exists()
    assert main(["gradcheck", "waveforms=noise", f"results_dir={tmp_path}"]) == 2
    assert "unknown waveform" in capsys.readouterr().err


def test_landscape_command_marks_the_target(tmp_path, capsys):
    out = tmp_path / "land.png"
    args = ["landscape", "x=ratio", "y=gain", "loss=l2", "steps=5", "duration=0.05", f"out={out}",
            f"results_dir={tmp_path}"]  # fmt: skip
    assert main(args) == 0
    assert out.stat().st_size > 1000
    grid = np.load(out.with_suffix(".npz"))
    assert grid["loss"].shape == (5, 5) and np.isfinite(grid["loss"]).all()
    assert main(["landscape", "x=ratio", "y=nope", f"out={out}"]) == 2
    assert "no parameter 'nope'" in capsys.readouterr().err
    # a synth preset, as run's synth= takes it, works here too; an unknown name lists both kinds
    preset = ["landscape", "synth=dx7_flute", "x=op1_output", "y=op2_output", "loss=l2", "steps=3",
              "duration=0.05", f"out={out}", f"results_dir={tmp_path}"]  # fmt: skip
    assert main(preset) == 0
    assert main(["landscape", "synth=nope", "x=a", "y=b", f"out={out}"]) == 2
    assert "unknown synth 'nope'; available: dexed, dx7, dx7_brass, dx7_flute" in capsys.readouterr().err
