"""Benchmarks (pytest-benchmark) of the leaderboard statistics on a large store's worth of runs.

A sweep of 8 solvers x 4 losses x 5 seeds over 64 targets: 10240 finished target runs.
Run with ``make bench``; ``make test`` skips them.
"""

import numpy as np
import pandas as pd

from benchmark.report import scoring

SOLVERS = ["random", "cma", "ga", "adam", "pso", "de", "nevergrad", "pca_kmeans"]
LOSSES = ["mss", "l2", "mel", "spectral_ot"]


def big_runs() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    grid = pd.MultiIndex.from_product(
        [SOLVERS, LOSSES, range(5), [f"t{i:03d}" for i in range(64)]], names=["s", "l", "seed", "t"]
    ).to_frame(index=False)
    n = len(grid)
    return pd.DataFrame(
        {
            "run_id": [f"r{i}" for i in range(n)],
            "tags.soundmatch.solver": grid["s"],
            "tags.soundmatch.loss": grid["l"],
            "tags.soundmatch.target": grid["t"],
            "tags.soundmatch.suite": "synthetic-fm2-00000000",
            "tags.soundmatch.synth": "fm2",
            "tags.soundmatch.config_hash": grid["s"] + grid["l"] + grid["seed"].astype(str),
            "params.seed": grid["seed"].astype(str),
            "params.budget.renders": "2000",
            "params.budget.seconds": "None",
            "metrics.loss": rng.gamma(2.0, 1.0, n),
            "metrics.lsd": rng.gamma(4.0, 3.0, n),
        }
    )


def test_summary_and_win_rates_of_10k_runs(benchmark):
    runs = big_runs()

    def board():
        table = scoring.summarize(runs, ["lsd"], ["suite", "loss", "solver"], "lsd", score_metric="loss")
        wins = scoring.win_rates(runs, "loss", "solver", context=["loss"])
        return table, wins

    table, wins = benchmark(board)
    assert len(table) == len(SOLVERS) * len(LOSSES) and wins.shape == (len(SOLVERS), len(SOLVERS))
    benchmark.extra_info["runs"] = len(runs)
