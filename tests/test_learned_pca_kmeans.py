"""pca_kmeans: features, clustering, nearest-cluster starts, cache by config hash, budget apart."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from losses.l2 import L2
from solvers.base import Budget, Problem, Target, Task
from solvers.pca_kmeans import PCAKMeans, audio_features
from soundmatch.errors import UserError
from synths.base import Note
from synths.fm2 import FM2

SR, DUR = 8000, 0.25


def small(**kw) -> PCAKMeans:
    options = dict(n_samples=48, n_clusters=4, n_components=6, starts=3, refine="none", render_batch=48)
    return PCAKMeans(**{**options, **kw})


def task(tmp_path=None) -> Task:
    return Task(FM2(), L2(SR), SR, DUR, Note(60), "cpu", tmp_path)


def test_features_shapes_and_values():
    t = np.arange(SR) / SR
    audio = np.stack([np.sin(2 * np.pi * 440 * t), 0.1 * np.sin(2 * np.pi * 440 * t)]).astype(np.float32)
    stats = audio_features(audio, SR, "mfcc", "stats", 13)
    frames = audio_features(audio, SR, "mfcc", "frames", 13)
    assert stats.shape == (2, 26) and frames.shape[0] == 2 and frames.shape[1] % 13 == 0
    # MFCC 0 is the log energy: 20 dB quieter lowers it, the steady tone keeps its std near 0
    assert stats[1, 0] < stats[0, 0] - 10
    assert np.all(np.abs(stats[:, 14:]) < np.abs(stats[:, :13]).max())


def test_target_from_training_set_starts_from_its_own_patch(tmp_path):
    solver = small()
    info = solver.fit(task(tmp_path))
    assert info["training_renders"] == 48 and info["fit_from_cache"] == 0.0
    state = solver._state
    assert state["centers"].shape == (4, 6) and state["labels"].shape == (48,)
    j = 17
    audio = FM2().render(state["params"][j : j + 1], sample_rate=SR, duration=DUR, note=Note(60))[0]
    starts, cluster = solver.starting_points(audio.numpy(), SR)
    assert torch.allclose(starts[0], state["params"][j].float())
    assert cluster == int(state["labels"][j])
    members = state["labels"] == cluster
    n_members = int(members.sum())
    for row in starts[: min(3, n_members)]:  # cluster members come first
        idx = int(torch.argmin((state["params"].float() - row).abs().sum(-1)))
        assert bool(members[idx])


def test_fit_is_cached_by_config_hash(tmp_path):
    first = small()
    first.fit(task(tmp_path))
    again = small()
    info = again.fit(task(tmp_path))
    assert info["fit_from_cache"] == 1.0
    assert torch.equal(first._state["centers"], again._state["centers"])
    # options that only change solving share the fit
    assert small(refine="adam", starts=2).fit(task(tmp_path))["fit_from_cache"] == 1.0
    other = small(n_clusters=3)
    assert other.fit(task(tmp_path))["fit_from_cache"] == 0.0
    assert len(list((tmp_path / "pca_kmeans").glob("*.pt"))) == 2


def test_solve_spends_only_the_target_budget(tmp_path):
    solver = small()
    solver.fit(task(tmp_path))
    x = FM2().sample(1, torch.Generator().manual_seed(5))
    audio = FM2().render(x, sample_rate=SR, duration=DUR, note=Note(60))[0]
    problem = Problem(FM2(), Target(audio, SR, "t", Note(60), x[0]), L2(SR), Budget(renders=10))
    result = solver.solve(problem)
    assert problem.renders == 3  # the starts only; the 48 training renders are not this target's
    assert result.info["starts"] == 3 and result.x.shape == (FM2().dim,)


def test_bad_options_are_user_errors():
    with pytest.raises(UserError, match="n_clusters"):
        PCAKMeans(n_samples=10, n_clusters=20)
    with pytest.raises(UserError, match="features"):
        PCAKMeans(features="chroma")


def test_refined_by_adam_from_the_starts(tmp_path):
    solver = small(refine="adam", refine_options={"lr": 0.05})
    solver.fit(task(tmp_path))
    x = FM2().sample(1, torch.Generator().manual_seed(6))
    audio = FM2().render(x, sample_rate=SR, duration=DUR, note=Note(60))[0]
    problem = Problem(FM2(), Target(audio, SR, "t", Note(60), x[0]), L2(SR), Budget(renders=12))
    starts, _ = solver.starting_points(audio.numpy(), SR)
    start_loss = float(problem.loss_of(starts).min())
    solver.solve(problem)
    assert problem.renders == 12 and problem.best_loss <= start_loss


def test_runner_fits_once_caches_under_results_and_logs_training(tmp_path):
    from hydra import compose, initialize_config_dir

    from benchmark.run import runner
    from benchmark.run.app import CONF_DIR

    results = tmp_path / "results"
    overrides = [
        "solver=pca_kmeans", "solver.n_samples=24", "solver.n_clusters=3", "solver.refine=none",
        "solver.starts=2", "synth=fm2", "target.n=2", "budget.renders=4", "duration=0.25",
        "sample_rate=8000", "metrics=[lsd]", "progress=false", f"results_dir={results}",
    ]  # fmt: skip
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = compose("config", overrides=overrides)
    outcome = runner.run(cfg)
    assert len(list((results / "cache" / "pca_kmeans").glob("*.pt"))) == 1
    for target in outcome.targets:
        assert target.metrics["training_renders"] == 24.0 and target.renders == 2
    # the training budget is on the leaderboard beside the per-target renders (not when metrics=
    # names the columns)
    from benchmark.report.leaderboard import compute, rows
    from benchmark.run.tracking import default_uri

    board = compute(default_uri(results), "soundmatch")
    assert {"training_renders", "training_seconds"} <= set(board.metrics)
    head, body = rows(board)
    assert body[0][head.index("training_renders (mean ± 95% CI)")].startswith("24")
    assert "training_renders" not in compute(default_uri(results), "soundmatch", metrics=["lsd"]).metrics
