"""``retrieval``: the nearest presets of a DX7 corpus, found from their sound at any note."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.run.spec import suite_loader
from benchmark.run.targets.base import SuiteContext
from losses.mss import MultiScaleSpectral
from solvers.base import Budget, Problem, Task
from solvers.retrieval import Retrieval, embed, preset_of, transposed
from synths.base import Note, synth_registry
from synths.dx7.sysex import write_bank

SR = 16000


def harmonic_tone(midi: float, seconds: float = 0.5) -> np.ndarray:
    """Eight harmonics falling 6 dB each, at ``midi``."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    return sum(0.5**k * np.sin(2 * np.pi * (k + 1) * f0 * t) for k in range(8)).astype(np.float32)


def test_a_note_played_higher_is_the_embedding_shifted_by_its_semitones():
    low, high = embed(np.stack([harmonic_tone(60.0), harmonic_tone(63.0)]), SR)
    moved = transposed(torch.from_numpy(low), 3).numpy()
    other = transposed(torch.from_numpy(low), 5).numpy()
    assert low.shape == high.shape and low.max() == 0.0 and low.min() >= -60.0
    # shifted by the interval it matches the higher note far better than unshifted or shifted wrong
    assert np.abs(moved - high).mean() < 0.25 * np.abs(low - high).mean()
    assert np.abs(moved - high).mean() < 0.25 * np.abs(other - high).mean()
    # level is left out: a quieter copy embeds the same
    np.testing.assert_allclose(embed(0.1 * harmonic_tone(60.0)[None], SR)[0], low, atol=1e-3)


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    """Two banks of 32 made voices, a retrieval solver fitted on all of them at note 60, the loader."""
    synth = synth_registry.create("dx7", algorithm=None)
    root = tmp_path_factory.mktemp("banks")
    for seed in (1, 2):
        voices = [synth.unit_to_voice(x) for x in synth.sample(32, torch.Generator().manual_seed(seed))]
        write_bank(root / f"bank{seed}.syx", voices)
    context = SuiteContext(synth, SR, 0.5, Note(60.0, 100), torch.device("cpu"))
    load = suite_loader(context)
    task = Task(synth, MultiScaleSpectral(SR), SR, 0.5, Note(60.0, 100), torch.device("cpu"),
                tmp_path_factory.mktemp("cache"), load)  # fmt: skip
    solver = Retrieval(corpus=str(root), split="all", notes=[60.0], candidates=1)
    figures = solver.fit(task)
    return solver, load, root, figures, synth


def test_the_gallery_cache_follows_the_corpus_content(gallery, tmp_path):
    """A cached gallery is reused for the same banks and rebuilt when a bank changes."""
    solver, load, root, _, synth = gallery
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.syx").write_bytes((root / "bank1.syx").read_bytes())
    task = Task(synth, MultiScaleSpectral(SR), SR, 0.5, Note(60.0, 100), torch.device("cpu"),
                tmp_path / "cache", load)  # fmt: skip
    first = Retrieval(corpus=str(corpus), split="all", notes=[60.0]).fit(task)
    again = Retrieval(corpus=str(corpus), split="all", notes=[60.0]).fit(task)
    assert first["fit_from_cache"] == 0.0 and again["fit_from_cache"] == 1.0
    (corpus / "b.syx").write_bytes((root / "bank2.syx").read_bytes())
    grown = Retrieval(corpus=str(corpus), split="all", notes=[60.0]).fit(task)
    assert grown["fit_from_cache"] == 0.0 and grown["gallery_presets"] == 2 * first["gallery_presets"]


@pytest.mark.parametrize("note, share", [(60.0, 0.95), (62.0, 0.75)])
def test_the_exact_preset_comes_first_at_the_gallery_note_and_two_semitones_off(gallery, note, share):
    solver, load, root, figures, _ = gallery
    queries = load({"name": "dx7_presets", "path": str(root), "split": "all", "notes": [note]})
    assert figures["gallery_presets"] == len(queries) >= 60
    hits = [solver.nearest(q.audio.numpy(), SR, note)[1][0] == preset_of(q.name) for q in queries]
    assert np.mean(hits) >= share, np.mean(hits)


def test_solving_plays_the_candidates_within_the_budget_and_names_them(gallery):
    solver, load, root, _, synth = gallery
    query = load({"name": "dx7_presets", "path": str(root), "split": "all", "n": 1, "seed": 5})[0]
    solver.candidates = 4
    try:
        problem = Problem(synth, query, MultiScaleSpectral(SR), Budget(3), seed=0)
        result = solver.solve(problem)
    finally:
        solver.candidates = 1
    assert problem.renders == 3 and len(result.info["retrieved"]) == 3  # 4 candidates, 3 renders
    assert result.info["retrieved"][0] == result.info["retrieved_best"] == preset_of(query.name)
    assert torch.allclose(result.x, query.params, atol=1e-6)  # the preset itself, found


def test_refined_by_cma_from_the_best_candidate_within_the_budget(gallery):
    solver, load, root, _, synth = gallery
    query = load({"name": "dx7_presets", "path": str(root), "split": "all", "n": 1, "seed": 9,
                  "notes": [63.0]})[0]  # fmt: skip
    refined = Retrieval(corpus=str(root), split="all", notes=[60.0], candidates=3, refine="cma",
                        refine_options={"popsize": 6})  # fmt: skip
    refined._state = solver._state  # the same gallery
    problem = Problem(synth, query, MultiScaleSpectral(SR), Budget(30), seed=0)
    result = refined.solve(problem)
    assert problem.renders == 30 and "runs" in result.info  # cma's own record of its runs
    candidates = next(p.best_loss for p in problem.curve if p.renders == 3)  # the 3 presets, one batch
    assert problem.best_loss <= candidates


def test_refined_by_fm_match_whose_analytic_starts_compete_with_the_presets(gallery):
    solver, load, root, _, synth = gallery
    query = load({"name": "dx7_presets", "path": str(root), "split": "all", "n": 1, "seed": 4})[0]
    refined = Retrieval(corpus=str(root), split="all", notes=[60.0], candidates=2, refine="fm_match")
    refined._state = solver._state
    problem = Problem(synth, query, MultiScaleSpectral(SR), Budget(40), seed=0)
    result = refined.solve(problem)
    assert problem.renders == 40
    assert result.info["structures"][-2:] == ["given start", "given start"]
    assert result.info["chosen_structure"] == "given start"  # the exact preset beats any analysis
    assert problem.best_loss == pytest.approx(0.0, abs=1e-6)


def test_run_through_the_cli_scores_only_targets_not_in_the_gallery(gallery, main_cli, workdir):
    """The gallery holds the train split; a run on the test split scores every target, a run on
    all presets only those of the test split; a missing corpus is one line."""
    root = gallery[2]
    common = ["synth=dx7", "synth.algorithm=null", "target=dx7_presets", f"target.path={root}",
              "target.test_fraction=0.5", "target.seed=1", "duration=0.5", "budget.renders=4",
              "metrics=[lsd]", "progress=false"]  # fmt: skip
    solver = ["solver=retrieval", f"solver.corpus={root}", "solver.notes=[60]", "solver.test_fraction=0.5",
              "solver.seed=1"]  # one bank of two in each split  # fmt: skip
    proc = main_cli("run", *solver, *common, "target.split=test", "target.n=2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    infos = list((workdir / "results").rglob("params.json"))
    assert len(infos) == 2
    for info in infos:
        record = json.loads(Path(info).read_text())["solver_info"]
        assert len(record["retrieved"]) == 4 and record["gallery_note"] == 60.0
    # the run is tagged with the corpus its gallery came from, and the leaderboard says it
    from benchmark.report.leaderboard import load_runs

    runs = load_runs(f"sqlite:///{workdir / 'results' / 'mlflow.db'}", "soundmatch")
    (corpus,) = set(runs["tags.soundmatch.training.corpus"])
    assert len(corpus) == 12  # the corpus hash dx7_presets reports for the folder
    board = main_cli("leaderboard")
    assert f"retrieval answered from corpus {corpus}" in board.stdout.replace("\n", " "), board.stdout
    both = main_cli("run", *solver, *common, "target.split=all", "force=true")
    assert both.returncode == 0, both.stderr[-2000:]
    assert "retrieval: scoring the 32 held-out targets (32 trained on)" in both.stdout
    missing = main_cli("run", "solver=retrieval", *common)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1] == (
        "error: solver=retrieval needs solver.corpus=FOLDER (DX7 .syx banks: the gallery)"
    )


def test_the_retrieval_study_counts_exact_presets_found(gallery, main_cli, workdir):
    root = gallery[2]
    proc = main_cli("retrieval", f"corpus={root}", "queries=[60:100,61:90]", "gallery_notes=[60]",
                    "test_fraction=0.5", "seed=1", "duration=0.5", "candidates=3")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = (workdir / "results" / "retrieval.csv").read_text().splitlines()
    assert lines[0] == "note,velocity,queries,top1,top3"
    rows = [line.split(",") for line in lines[1:]]
    assert [(r[0], r[1], r[2]) for r in rows] == [("60", "100", "32"), ("61", "90", "32")]
    assert float(rows[0][3]) >= 0.95 and float(rows[1][4]) >= float(rows[1][3]) >= 0.5
    bad = main_cli("retrieval", f"corpus={root}", "queries=[sixty]")
    assert bad.returncode == 2 and "queries= takes note:velocity items" in bad.stderr
