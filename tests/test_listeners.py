"""The yardstick against listeners: ``score FOLDER pairs=all``, ``calibrate human=``, the agreement
figures, and the leave-one-set-out fit of match_distance's timbre weights -- on rating sets made
here (the published ones are fetched by the user, never bundled)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import soundfile as sf

from benchmark.cli.main import main
from benchmark.studies.human import agreement, read_rating_sets
from soundmatch.errors import UserError

SR = 16000


def bright_tone(brightness: float, f0: float = 220.0, seconds: float = 0.5, decay: float = 3.0) -> np.ndarray:
    """A harmonic tone whose partials fall off by ``brightness`` (0 dark .. 1 bright), decaying."""
    t = np.arange(int(SR * seconds)) / SR
    slope = 0.2 + 0.75 * brightness  # amplitude ratio of neighbouring harmonics
    x = sum(slope**h * np.sin(2 * np.pi * (h + 1) * f0 * t) for h in range(20) if (h + 1) * f0 < SR / 2)
    env = np.minimum(1.0, t / 0.01) * np.exp(-decay * t)
    return (0.3 * x * env / np.abs(x).max()).astype(np.float32)


def make_set(root, name: str, values: list[float], layout: str = "public") -> None:
    """A rating set in the layout of the public re-analysis (sounds/<set>/, data/<set>_...txt) or
    flat (<set>/ beside the matrix); listeners' ratings = |brightness difference|, upper triangle."""
    sounds = root / "sounds" / name if layout == "public" else root / name
    data = root / "data" if layout == "public" else root
    sounds.mkdir(parents=True)
    data.mkdir(parents=True, exist_ok=True)
    for i, v in enumerate(values):
        sf.write(sounds / f"{i:02d}_{name}.wav", bright_tone(v), SR)
    n = len(values)
    ratings = np.array([[abs(values[i] - values[j]) if j > i else 0.0 for j in range(n)] for i in range(n)])
    np.savetxt(data / f"{name}_dissimilarity_matrix.txt", ratings, fmt="%.6f")


def test_agreement_figures_of_perfect_and_reversed_orders():
    rng = np.random.default_rng(0)
    pts = rng.uniform(size=(7, 2))
    ratings = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    same = agreement(ratings * 3.0 + 1.0, ratings)
    assert same["spearman"] == pytest.approx(1.0) and same["anchor"] == pytest.approx(1.0)
    assert same["pearson"] == pytest.approx(1.0) and same["triplet"] == pytest.approx(1.0)
    flipped = agreement(-ratings, ratings)
    assert flipped["spearman"] == pytest.approx(-1.0) and flipped["triplet"] == pytest.approx(0.0)


def test_rating_sets_are_read_in_both_layouts_and_a_broken_one_is_skipped(tmp_path, capsys):
    make_set(tmp_path, "public_set", [0.0, 0.3, 0.6, 0.9])
    make_set(tmp_path, "flat_set", [0.1, 0.5, 0.8], layout="flat")
    make_set(tmp_path, "broken_set", [0.0, 0.5, 1.0])
    (tmp_path / "sounds" / "broken_set" / "00_broken_set.wav").unlink()  # 2 sounds, 3 x 3 ratings
    sets = read_rating_sets(tmp_path, SR)
    assert [s.name for s in sets] == ["flat_set", "public_set"]
    assert sets[1].ratings.shape == (4, 4) and np.allclose(sets[1].ratings, sets[1].ratings.T)
    assert sets[1].files == sorted(sets[1].files)
    err = capsys.readouterr().err
    assert "skipped rating set broken_set" in err and "3 x 3" in err
    with pytest.raises(UserError, match="no \\*_dissimilarity_matrix.txt"):
        read_rating_sets(tmp_path / "sounds", SR)


def test_calibrate_human_ranks_distances_by_agreement_with_listeners(tmp_path, capsys):
    data = tmp_path / "ratings"
    make_set(data, "bright_a", [0.0, 0.15, 0.35, 0.6, 0.8, 1.0])
    make_set(data, "bright_b", [0.05, 0.25, 0.5, 0.7, 0.95])
    make_set(data, "bright_c", [0.1, 0.4, 0.55, 0.9])
    out = tmp_path / "results"
    rc = main(["calibrate", f"human={data}", "metrics=match_distance,lsd", "losses=l2", "fit=true",
               "notes=6", f"results_dir={out}"])  # fmt: skip
    assert rc == 0
    table = (out / "human.md").read_text()
    rows = {ln.split("|")[1].strip(): ln for ln in table.splitlines() if ln.startswith("| ")}
    assert {"match_distance", "lsd", "l2", "mfcc_baseline"} <= set(rows)
    spearman = float(rows["match_distance"].split("|")[3].split()[0])
    assert spearman > 0.8, rows["match_distance"]  # brightness differences are what it measures
    assert "leave-one-set-out" in table and "| bright_b |" in table
    # the pitch curve: the shipped one is scored and checked on the (6-note) ladder, and unless no
    # curve keeps that ladder, one is chosen per held-out set
    pitch = table.split("Pitch curve of match_distance")[1]
    shipped_row = next(ln for ln in pitch.splitlines() if ln.startswith("| shipped"))
    assert shipped_row.split("|")[4].strip() in ("yes", "NO")
    assert "| leave-one-set-out (chosen per held-out set) |" in pitch or "No curve of the grid" in pitch
    lines = list(csv.reader(io.StringIO((out / "human.csv").read_text())))
    assert lines[0] == ["distance", "kind", "set", "spearman", "anchor", "pearson", "triplet"]
    assert len(lines) == 1 + 4 * 3
    assert "experiment 'calibrate_human'" in capsys.readouterr().out
    assert main(["calibrate", f"human={tmp_path / 'nowhere'}", f"results_dir={out}"]) == 2
    assert main(["calibrate", f"human={data}", "sets=[nope]", f"results_dir={out}"]) == 2


def test_the_pitch_curve_must_keep_the_ladder():
    """A curve is admitted only if every adjacent rung stays ordered: a wrong note cheaper than
    another instrument (a low cap) or 10 cents cheaper than a 6 dB gain (no mistuning charge) fails."""
    from benchmark.studies.calibrate import CHAIN, RUNGS, SIDE
    from benchmark.studies.pitch_fit import Ladder, Terms, ladder_holds
    from metrics.match_distance import PITCH_CURVE, PitchCurve

    n = 20
    cents = {"detune_10c": 10.0, "semitone": 100.0, "octave": 1200.0}
    level = {"gain_6db": 6.0, "velocity": 12.0}
    timbre = {"detune_10c": 2.0, "velocity": 10.0, "other_instrument": 40.0, "semitone": 5.0,
              "octave": 45.0, "noise_envelope": 60.0, "noise_floor": 150.0, "silence": 400.0,
              "sine_envelope": 30.0}  # fmt: skip
    unpitched = {"noise_envelope", "noise_floor", "silence"}

    def rung(r: str) -> Terms:
        full = np.ones(n)
        pitched = r not in unpitched
        interval = cents.get(r, 0.0) if pitched else np.nan
        terms = level.get(r, 0.0) * full, timbre.get(r, 0.0) * full, interval * full
        return Terms(*terms, full, pitched * full)

    ladder = Ladder({r: rung(r) for r in RUNGS}, CHAIN, SIDE)
    assert ladder_holds([ladder], PITCH_CURVE)
    assert not ladder_holds([ladder], PitchCurve(cap=30.0))  # a semitone below another instrument
    assert not ladder_holds([ladder], PitchCurve(mistune=0.5))  # 10 cents below a 6 dB gain
    assert not ladder_holds([ladder, Ladder({**ladder.terms, "sine_envelope": rung("silence")}, CHAIN, SIDE)],
                            PITCH_CURVE)  # a second ladder whose sine is worse than its noise  # fmt: skip


def test_score_pairs_all_writes_a_matrix_per_metric(tmp_path, capsys):
    folder = tmp_path / "patches"
    folder.mkdir()
    for name, v in (("c_bright", 0.9), ("a_dark", 0.0), ("b_mid", 0.5)):
        sf.write(folder / f"{name}.wav", bright_tone(v), SR)
    (folder / "notes.txt").write_text("not audio")
    assert main(["score", str(folder), "pairs=all", "format=csv", "metrics=match_distance",
                 f"out={tmp_path / 'm'}"]) == 0
    text = capsys.readouterr().out
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][1:] == ["a_dark.wav", "b_mid.wav", "c_bright.wav"]
    matrix = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert np.all(np.diag(matrix) == 0.0) and np.all(matrix[~np.eye(3, dtype=bool)] > 0.0)
    assert matrix[0, 2] > matrix[0, 1]  # dark vs bright is farther than dark vs mid
    assert (tmp_path / "m" / "match_distance.csv").read_text().strip() == text.strip()
    assert main(["score", str(folder), "pairs=all", "format=json", "metrics=match_distance,lsd"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["rows"] == "target" and len(info["matrices"]["lsd"]) == 3
    assert main(["score", str(folder / "a_dark.wav"), "pairs=all"]) == 2
    assert "is not a folder" in capsys.readouterr().err
