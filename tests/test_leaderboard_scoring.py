"""Leaderboard statistics on hand-made run tables: values worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark.report import scoring


def runs_table(rows: list[tuple[str, str, str, int, float]]) -> pd.DataFrame:
    """(solver, loss, target, seed, final loss) rows as load_runs would return them."""
    frame = pd.DataFrame(
        {
            "run_id": [f"r{i}" for i in range(len(rows))],
            "start_time": pd.to_datetime(np.arange(len(rows)), unit="s"),
            "tags.soundmatch.solver": [r[0] for r in rows],
            "tags.soundmatch.loss": [r[1] for r in rows],
            "tags.soundmatch.target": [r[2] for r in rows],
            "params.seed": [str(r[3]) for r in rows],
            "metrics.loss": [r[4] for r in rows],
            "metrics.lsd": [10 * r[4] for r in rows],
        }
    )
    frame["tags.soundmatch.suite"] = "s1"
    frame["tags.soundmatch.synth"] = "fm2"
    frame["params.budget.renders"] = "100"
    frame["params.budget.seconds"] = "None"
    frame["tags.soundmatch.config_hash"] = [f"{r[0]}-{r[1]}-{r[3]}" for r in rows]
    return frame


ROWS = [
    # random search: baseline 2.0 on t1 (mean of seeds), 4.0 on t2
    ("random", "mss", "t1", 0, 1.0),
    ("random", "mss", "t1", 1, 3.0),
    ("random", "mss", "t2", 0, 4.0),
    ("random", "mss", "t2", 1, 4.0),
    ("cma", "mss", "t1", 0, 0.5),
    ("cma", "mss", "t1", 1, 1.5),
    ("cma", "mss", "t2", 0, 1.0),
    ("cma", "mss", "t2", 1, 6.0),
]


def test_normalised_score_divides_by_random_search_at_the_same_budget():
    runs = runs_table(ROWS)
    score, baseline = scoring.normalised_scores(runs, "loss")
    assert baseline.tolist() == [2.0, 2.0, 4.0, 4.0, 2.0, 2.0, 4.0, 4.0]
    assert score.tolist() == pytest.approx([0.5, 1.5, 1.0, 1.0, 0.25, 0.75, 0.25, 1.5])
    # another loss has no random run: no baseline, no score
    other = runs_table([*ROWS, ("cma", "l2", "t1", 0, 0.1)])
    score, _ = scoring.normalised_scores(other, "loss")
    assert np.isnan(score.iloc[-1]) and np.isfinite(score.iloc[:-1]).all()
    # a different budget is a different baseline
    other = runs_table([*ROWS, ("cma", "mss", "t1", 0, 0.1)])
    other.loc[8, "params.budget.renders"] = "50"
    assert np.isnan(scoring.normalised_scores(other, "loss")[0].iloc[-1])


def test_summary_means_bootstrap_intervals_and_ranks():
    runs = runs_table(ROWS)
    table = scoring.summarize(runs, ["lsd"], ["solver"], "lsd", score_metric="loss", seed=3)
    cma = table.set_index("solver").loc["cma"]
    rnd = table.set_index("solver").loc["random"]
    assert cma["score"] == pytest.approx((0.25 + 0.75 + 0.25 + 1.5) / 4)
    assert rnd["score"] == pytest.approx(1.0)
    assert cma["lsd"] == pytest.approx(22.5) and cma["n"] == 4
    # percentile bootstrap of the mean lies inside the data's range and around the mean
    assert 0.25 <= cma["score_lo"] <= cma["score"] <= cma["score_hi"] <= 1.5
    assert cma["lsd_lo"] < cma["lsd"] < cma["lsd_hi"]
    assert cma["lsd_ci95"] == pytest.approx((cma["lsd_hi"] - cma["lsd_lo"]) / 2)
    assert table.loc[0, "solver"] == "cma" and table.attrs["ranked_by"] == "score"
    assert table.set_index("solver")["rank"].to_dict() == {"cma": 1.0, "random": 2.0}
    # per target: cma wins t1 (score 0.5 vs 1.0) and t2 (0.875 vs 1.0)
    assert table.set_index("solver")["mean_rank"].to_dict() == {"cma": 1.0, "random": 2.0}
    # seeded, and independent of the order the store returns runs in
    again = scoring.summarize(runs.iloc[::-1], ["lsd"], ["solver"], "lsd", score_metric="loss", seed=3)
    pd.testing.assert_frame_equal(table, again)


def test_ranks_restart_per_synth_when_grouped_by_synth_not_suite():
    other = runs_table(ROWS)
    other["tags.soundmatch.synth"] = "dx7"
    other["tags.soundmatch.suite"] = "s2"
    runs = pd.concat([runs_table(ROWS), other], ignore_index=True)
    table = scoring.summarize(runs, ["lsd"], ["synth", "solver"], "lsd")
    assert table["rank"].tolist() == [1.0, 2.0, 1.0, 2.0]
    assert table["synth"].tolist() == ["dx7", "dx7", "fm2", "fm2"]


def test_bootstrap_interval_covers_the_mean_at_the_nominal_rate():
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(200):
        _, lo, hi = scoring.bootstrap_ci(rng.normal(1.0, 1.0, 30), seed=int(rng.integers(1 << 30)))
        covered += lo <= 1.0 <= hi
    assert 0.88 <= covered / 200 <= 0.99
    assert np.isnan(scoring.bootstrap_ci(np.array([1.0]))[1])


def test_without_random_runs_the_rank_falls_back_to_the_metric():
    runs = runs_table([r for r in ROWS if r[0] != "random"] + [("ga", "mss", "t1", 0, 9.0)])
    table = scoring.summarize(runs, ["lsd"], ["solver"], "lsd", score_metric="loss")
    assert table["score"].isna().all() and table.attrs["unbaselined"] == 5
    assert table.attrs["ranked_by"] == "lsd" and table.loc[0, "solver"] == "cma"


def test_metric_named_like_a_group_key_gets_its_own_column():
    runs = runs_table(ROWS)
    table = scoring.summarize(runs, ["loss"], ["loss", "solver"], "loss")
    assert set(table["loss"]) == {"mss"}
    assert table.set_index("solver").loc["random", "metric.loss"] == pytest.approx(3.0)


def test_win_rates_count_matches_and_ties():
    rows = [*ROWS, ("ga", "mss", "t1", 0, 0.5), ("ga", "mss", "t2", 0, 9.0)]
    wins = scoring.win_rates(runs_table(rows), "loss", "solver")
    # cma vs random: t1s0 win, t1s1 win, t2s0 win, t2s1 loss
    assert wins.loc["cma", "random"] == pytest.approx(0.75)
    assert wins.loc["random", "cma"] == pytest.approx(0.25)
    # cma vs ga meet on t1 seed 0 (tie) and t2 seed 0 (cma wins)
    assert wins.loc["cma", "ga"] == pytest.approx(0.75)
    assert np.isnan(wins.loc["cma", "cma"])
    assert list(wins.index)[0] == "cma"


def test_holm_adjusts_step_down_and_keeps_order():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06
    adjusted = scoring.holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert scoring.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_separable_from_best_pairs_targets_and_corrects_for_many_solvers():
    rng = np.random.default_rng(0)
    targets = [f"t{i}" for i in range(20)]
    base = rng.uniform(1.0, 10.0, len(targets))  # targets differ a lot: only pairing separates
    rows = []
    for seed in (0, 1):
        for t, b in zip(targets, base, strict=True):
            rows.append(("cma", "mss", t, seed, b))
            rows.append(("ga", "mss", t, seed, b + 0.5 + 0.01 * seed))  # worse on every target
            rows.append(("hybrid", "mss", t, seed, b + (0.2 if seed == 0 else -0.2) + rng.normal(0, 0.01)))
    rows.append(("ga", "mss", "t0", 2, base[0] + 3.0))  # a third seed of one target: averaged in
    runs = runs_table(rows)
    result = scoring.separable_from_best(runs, "loss", "solver").set_index("solver")
    assert result.loc["cma", "best"] and not result.loc["cma", "separable"]
    assert result.loc["ga", "separable"] and result.loc["ga", "targets"] == 20
    assert result.loc["ga", "p_holm"] == pytest.approx(min(1.0, 2 * result.loc["ga", "p"]))
    # hybrid's seeds cancel per target: the same as cma up to noise
    assert not result.loc["hybrid", "separable"]
    from scipy.stats import wilcoxon

    keys = ["tags.soundmatch.solver", "tags.soundmatch.target"]
    per_target = runs.groupby(keys)["metrics.loss"].mean()
    diff = per_target["ga"] - per_target["cma"]
    assert result.loc["ga", "p"] == pytest.approx(float(wilcoxon(diff.to_numpy()).pvalue))


def test_separable_from_best_per_context_group():
    rows = [
        (solver, loss, f"t{i}", 0, low + i)
        for solver, loss, low in [("a", "mss", 1.0), ("b", "mss", 5.0), ("a", "lsd", 5.0), ("b", "lsd", 1.0)]
        for i in range(8)
    ]
    result = scoring.separable_from_best(runs_table(rows), "loss", "solver", context=["loss"])
    best = result[result["best"]].set_index("loss")["solver"]
    assert best.to_dict() == {"lsd": "b", "mss": "a"}
    assert result["separable"].sum() == 2  # 8 of 8 targets one way: p = 2/256 < 0.05


def test_win_rates_between_solver_options_when_grouped_by_them():
    rows = [*ROWS, ("ng", "mss", "t1", 0, 0.1), ("ng", "mss", "t1", 1, 9.0)]
    runs = runs_table(rows)
    runs["params.solver.optimizer"] = ["-"] * len(ROWS) + ["PSO", "DE"]
    runs.loc[: len(ROWS) - 1, "params.solver.optimizer"] = np.nan  # other solvers lack the key
    wins = scoring.win_rates(runs, "loss", ["solver", "solver.optimizer"])
    assert set(wins.index) == {"cma", "random", "ng PSO", "ng DE"}
    # ng PSO meets cma and random on t1 seed 0 and beats both; ng DE loses on t1 seed 1
    assert wins.loc["ng PSO", "cma"] == 1.0 and wins.loc["ng DE", "random"] == 0.0
    assert np.isnan(wins.loc["ng PSO", "ng DE"])  # different seeds: never the same match


def test_dedupe_keeps_the_latest_run_of_a_config_and_target():
    runs = runs_table([*ROWS, ("cma", "mss", "t1", 0, 0.1)])
    kept = scoring.dedupe(runs)
    assert len(kept) == len(ROWS)
    mine = kept[
        (kept["tags.soundmatch.config_hash"] == "cma-mss-0") & (kept["tags.soundmatch.target"] == "t1")
    ]
    assert mine["metrics.loss"].tolist() == [0.1]


def test_suite_level_metric_comes_from_the_invocations_one_per_config():
    runs = runs_table(ROWS)
    # parent runs: per config (solver-loss-seed) its FAD; cma seed 0 was resumed once, and the
    # resuming invocation covered one target only, so the full one (2 targets) is kept
    parents = pd.DataFrame(
        {
            "start_time": pd.to_datetime([0, 1, 2, 3, 4], unit="s"),
            "tags.soundmatch.solver": ["random", "random", "cma", "cma", "cma"],
            "tags.soundmatch.config_hash": [
                "random-mss-0",
                "random-mss-1",
                "cma-mss-0",
                "cma-mss-1",
                "cma-mss-0",
            ],
            "metrics.fad": [4.0, 6.0, 1.0, 3.0, 99.0],
            "metrics.suite_metric_targets": [2, 2, 2, 2, 1],
        }
    )
    kept = scoring.dedupe_invocations(parents)
    assert sorted(kept["metrics.fad"]) == [1.0, 3.0, 4.0, 6.0]
    table = scoring.summarize(runs, ["lsd", "fad"], ["solver"], "lsd", suite_runs=kept).set_index("solver")
    assert table.loc["cma", "fad"] == pytest.approx(2.0) and table.loc["random", "fad"] == pytest.approx(5.0)
    assert table.loc["cma", "fad_lo"] <= 2.0 <= table.loc["cma", "fad_hi"]
    # grouped by target, a suite-level metric has no value (it is not per target)
    by_target = scoring.summarize(runs, ["fad"], ["solver", "target"], "loss", suite_runs=kept)
    assert by_target["fad"].isna().all()


def test_anytime_curves_and_fixed_target_ecdf():
    runs = runs_table(ROWS)
    hist = {
        rid: pd.DataFrame(
            {"renders": [1, 10, 100], "loss": [5.0, 2.0, min(2.0, v)], "seconds": [0.01, 0.1, 1]}
        )
        for rid, v in zip(runs["run_id"], runs["metrics.loss"], strict=True)
    }
    grid = np.array([0.5, 1, 5, 10, 99, 100, 1000])
    assert scoring.step_curve(np.array([1.0, 10, 100]), np.array([5.0, 2, 1]), grid)[1:].tolist() == [
        5,
        5,
        2,
        2,
        1,
        1,
    ]
    curves = scoring.anytime_table(runs, hist, ["solver"], points=5)
    cma = curves[(curves["group"] == "cma") & (curves["axis"] == "renders")]
    assert cma["x"].iloc[0] == 1 and cma["x"].iloc[-1] == pytest.approx(100)
    # the median of final bests 0.5, 1, 1.5, 2 lies halfway between the middle two: 1.25
    assert cma["median"].iloc[0] == 5.0 and cma["median"].iloc[-1] == 1.25
    assert (np.diff(cma["median"]) <= 0).all() and (cma["q25"] <= cma["q75"]).all()
    # a run that starts later is +inf before its first evaluation: quartiles still fall
    late = dict(hist)
    late["r4"] = pd.DataFrame({"renders": [50, 100], "loss": [0.1, 0.1], "seconds": [0.5, 1]})
    cma_late = scoring.anytime_table(runs, late, ["solver"], points=5)
    cma_late = cma_late[(cma_late["group"] == "cma") & (cma_late["axis"] == "renders")]
    assert (np.diff(cma_late["median"]) <= 0).all() and cma_late["runs"].iloc[0] == 3
    assert set(curves["axis"]) == {"renders", "seconds"}
    two = {k: hist[k] for k in list(hist)[:2]}  # two runs: the median is their mean, not the lower one
    pair = scoring.anytime_table(runs[runs["run_id"].isin(two)], two, ["solver"], points=3)
    finals = [float(h["loss"].iloc[-1]) for h in two.values()]
    assert pair[pair["axis"] == "renders"]["median"].iloc[-1] == pytest.approx(sum(finals) / 2)
    ecdf, what = scoring.ecdf_table(runs, hist, ["solver"], fractions=(1.0, 0.5))
    assert "random search" in what
    last = ecdf[ecdf["renders"] == ecdf["renders"].max()].set_index("group")["fraction"]
    # cma's final best 0.5, 1.5, 1, 2 against targets (1, 0.5) x baselines 2, 2, 4, 4: all but 1.5 <= 1
    assert last["cma"] == pytest.approx(7 / 8)
    first = ecdf[ecdf["renders"] == 1].set_index("group")["fraction"]
    assert first["cma"] == 0.0  # 5.0 is above every target
    # without a random baseline the reference is the median first loss (5.0); targets lie between it
    # and the best loss reached (t1 0.5, t2 1.0), so f=0.1 is 0.95 on t1 and 1.4 on t2
    cma_only = runs.iloc[4:]  # the cma rows of ROWS
    ecdf, what = scoring.ecdf_table(cma_only, hist, ["solver"], fractions=(1.0, 0.5, 0.1))
    assert "median first loss" in what and "best loss" in what
    curve = ecdf.set_index("renders")["fraction"]
    assert curve.loc[1] == pytest.approx(4 / 12)  # the first loss, 5.0, is the f=1 target
    assert curve.iloc[-1] == pytest.approx(10 / 12)  # 1.5 and 2.0 miss f=0.1: a readable spread


def test_groups_never_pool_different_tasks_or_solver_variants():
    from benchmark.report.leaderboard import comparable_groups

    runs = runs_table(ROWS)
    assert comparable_groups(runs, ["suite", "synth", "loss", "solver"], explicit=False)[0] == [
        "suite", "synth", "loss", "solver",
    ]  # fmt: skip
    runs.loc[runs.index[:2], "params.budget.renders"] = "500"
    runs["params.solver.optimizer"] = ["A" if i % 2 else "B" for i in range(len(runs))]
    keys, notes = comparable_groups(runs, ["suite", "synth", "loss", "solver"], explicit=False)
    assert keys[-2:] == ["budget.renders", "solver.optimizer"] and not notes
    keys, notes = comparable_groups(runs, ["solver"], explicit=True)
    assert keys == ["solver", "budget.renders"] and "split by budget.renders as well" in notes[0]


def test_intervals_resample_targets_then_seeds():
    # two targets, three seeds each: the between-target spread dominates; a run-level bootstrap
    # (6 independent draws) would give a much narrower interval than the two-stage one
    values = np.array([1.0, 1.1, 0.9, 5.0, 5.1, 4.9])
    targets = np.array(["a", "a", "a", "b", "b", "b"])
    mean, lo, hi = scoring.bootstrap_ci(values, clusters=targets)
    flat_mean, flat_lo, flat_hi = scoring.bootstrap_ci(values)
    assert mean == pytest.approx(3.0) and flat_mean == pytest.approx(3.0)
    assert lo < 1.5 and hi > 4.5  # one target drawn twice is a real possibility
    assert (hi - lo) > 1.3 * (flat_hi - flat_lo)
    # one run per target: the same as the plain bootstrap
    single = values[[0, 3]]
    assert scoring.bootstrap_ci(single, clusters=targets[[0, 3]]) == scoring.bootstrap_ci(single)


def test_iohprofiler_export_holds_every_run_s_improvements(tmp_path):
    """Per solver a .info file per task and one .dat block per run: its improvements of the best
    loss, in renders; the .info line names each run's instance, last render and final best."""
    from benchmark.report.ioh_export import HEADER, read_dat, write_iohprofiler

    runs = runs_table(ROWS)
    runs["tags.soundmatch.dimension"] = "7"
    hist = {
        rid: pd.DataFrame({"renders": [1, 10, 50, 100], "loss": [5.0, 2.0, 3.0, min(2.0, v)]})
        for rid, v in zip(runs["run_id"], runs["metrics.loss"], strict=True)
    }
    written = write_iohprofiler(runs, hist, ["suite", "synth", "loss", "solver"], tmp_path / "ioh")
    assert [p.relative_to(tmp_path / "ioh").as_posix() for p in written] == [
        "cma/IOHprofiler_f1_s1-fm2-mss.info",
        "random/IOHprofiler_f1_s1-fm2-mss.info",
    ]
    info = written[0].read_text().splitlines()
    assert info[0].startswith("suite = 'soundmatch', funcId = 1, funcName = 's1-fm2-mss', DIM = 7")
    assert "maximization = 'F', algId = 'cma'" in info[0] and info[1] == "%"
    # cma: t1 seeds 0, 1 (final 0.5, 1.5) are instance 1, t2 (1.0, 2.0) instance 2
    assert info[2] == "data_f1_s1-fm2-mss/IOHprofiler_f1_DIM7.dat, 1:100|0.5, 1:100|1.5, 2:100|1, 2:100|2"
    dat = tmp_path / "ioh" / "cma" / "data_f1_s1-fm2-mss" / "IOHprofiler_f1_DIM7.dat"
    assert dat.read_text().count(HEADER) == 4
    blocks = read_dat(dat)
    assert blocks[0].to_numpy().tolist() == [[1, 5.0], [10, 2.0], [100, 0.5]]  # 3.0 is no improvement
    assert blocks[3].to_numpy().tolist() == [[1, 5.0], [10, 2.0]]  # 2.0 at the end: no new record
    # written afresh: a second export does not append to the first
    write_iohprofiler(runs, hist, ["solver"], tmp_path / "ioh")
    assert written[0].read_text().count("%") == 1


def test_the_time_columns_say_on_what_they_were_measured():
    from benchmark.report.leaderboard import machine_notes

    runs = runs_table(ROWS)
    assert machine_notes(runs) == []  # runs from before the machine tags
    machine = {"cpu": "EPYC", "cores": "2", "torch_threads": "2", "torch": "2.13", "device": "cpu"}
    for key, value in machine.items():
        runs[f"tags.soundmatch.machine.{key}"] = value
    assert machine_notes(runs) == ["seconds measured on: EPYC, 2 cores, 2 torch threads, torch 2.13 on cpu"]
    runs.loc[0, "tags.soundmatch.machine.cores"] = "16"
    (note,) = machine_notes(runs)
    assert note.startswith("seconds come from 2 kinds of machine and are not comparable")


def test_a_metric_scored_under_two_versions_of_its_definition_is_flagged():
    """After a metric's definition changes, a store holds runs scored by the old and the new one;
    the leaderboard says so, with the command that brings them to one version."""
    from benchmark.report.leaderboard import version_notes

    runs = runs_table(ROWS)
    runs["metrics.match_distance"] = 1.0
    assert version_notes(runs, ["match_distance", "lsd"]) == []  # all from before versions: version 1
    runs["tags.soundmatch.metric_version.match_distance"] = "4"
    assert version_notes(runs, ["match_distance"]) == []
    runs.loc[0, "tags.soundmatch.metric_version.match_distance"] = "3"
    runs.loc[1, "tags.soundmatch.metric_version.match_distance"] = None  # before versions: 1
    (note,) = version_notes(runs, ["match_distance", "match_distance"])
    assert f"version 1 (1 runs), version 3 (1 runs), version 4 ({len(runs) - 2} runs)" in note
    assert "rescore metrics=[match_distance]" in note
    runs.loc[0, "metrics.match_distance"] = None  # a run without the metric does not count
    runs.loc[1, "metrics.match_distance"] = None
    assert version_notes(runs, ["match_distance"]) == []


def test_learned_solvers_are_shown_with_what_they_answered_from():
    from benchmark.report.leaderboard import training_notes

    runs = runs_table(ROWS)
    assert training_notes(runs) == []
    runs["tags.soundmatch.training.checkpoint"] = None
    runs.loc[runs["tags.soundmatch.solver"] == "cma", "tags.soundmatch.training.checkpoint"] = "abc"
    runs["metrics.training_renders"] = 900.0
    assert training_notes(runs) == ["cma answered from checkpoint abc (900 training renders)"]
    first = runs.index[runs["tags.soundmatch.solver"] == "cma"][0]
    runs.loc[first, "tags.soundmatch.training.checkpoint"] = "def"
    (note,) = training_notes(runs)
    assert note.startswith("cma answered from checkpoint abc and def") and "mix trained models" in note
