"""A folder of one's own recordings: notes read from file names or a notes table, else estimated;
off-grid notes played at the nearest key by the DX7 family; the Dexed check never fails a run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from analysis.pitch import midi_to_hz, parse_note
from benchmark.run.targets.base import SuiteContext
from benchmark.run.targets.folder import FolderSuite
from benchmark.run.targets.written_notes import note_in_name, read_sidecar
from soundmatch.errors import UserError
from synths.base import Note, synth_registry

SR = 16000


def tone(midi: float, seconds: float = 0.6, sr: int = SR) -> np.ndarray:
    """A decaying five-harmonic tone at ``midi`` (fractional: off the equal-tempered grid)."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = midi_to_hz(midi)
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
    return (0.3 * wave * np.exp(-2.0 * t)).astype(np.float32)


@pytest.mark.parametrize(
    "text, note",
    [("C4", 60), ("c#4", 61), ("Db4", 61), ("Cs4", 61), ("A-1", 9), ("B3", 59), ("Bb3", 58), ("G9", 127),
     ("60", 60), ("128", None), ("H4", None), ("C", None), ("Ab10", None)],
)
def test_parse_note_reads_midi_numbers_and_note_names(text, note):
    assert parse_note(text) == note


@pytest.mark.parametrize(
    "stem, note",
    [("flute_C#5", 73), ("marimba A3 ff", 57), ("piano_60", 60), ("piano-60", 60), ("organ_A-1", 9),
     ("01_Piano.D4", 62), ("bell_Eb6_take3", 87), ("take_01", None), ("sample", None), ("60", None),
     ("take_12", None), ("voice_200", None)],
)
def test_a_file_name_gives_its_note_and_take_numbers_do_not(stem, note):
    assert note_in_name(stem) == note


def test_a_notes_table_is_read_and_its_errors_name_the_row(tmp_path: Path):
    good = tmp_path / "notes.csv"
    good.write_text("file,note,velocity\na.wav,C#4,90\nsub/b.wav,70,\n")
    notes = read_sidecar(good)
    assert (notes["a.wav"].pitch, notes["a.wav"].velocity) == (61, 90)
    assert (notes["sub/b.wav"].pitch, notes["sub/b.wav"].velocity) == (70, None)
    as_json = tmp_path / "n.json"
    as_json.write_text(json.dumps({"a.wav": "A4"}))
    assert read_sidecar(as_json)["a.wav"].pitch == 69
    bad = tmp_path / "bad.csv"
    bad.write_text("file,note\na.wav,C#4\nb.wav,loud\n")
    with pytest.raises(UserError, match=r"row 2: note 'loud'"):
        read_sidecar(bad)
    headless = tmp_path / "h.csv"
    headless.write_text("a.wav,60\n")
    with pytest.raises(UserError, match="file,note"):
        read_sidecar(headless)


def _folder(root: Path, named: bool) -> dict[str, float]:
    """Three tones off the grid, named with their written note or not; {file: true MIDI pitch}."""
    root.mkdir(parents=True, exist_ok=True)
    pitches = {"C4": 60.31, "A3": 57.0 - 0.27, "E5": 76.12}
    files = {}
    for i, (name, midi) in enumerate(pitches.items()):
        file = f"take_{i + 1}_{name}.wav" if named else f"take_{i + 1}.wav"
        sf.write(root / file, tone(midi), SR)
        files[file] = midi
    return files


def _ctx(synth: str) -> SuiteContext:
    import torch

    return SuiteContext(synth_registry.create(synth), SR, 0.5, Note(48.0), torch.device("cpu"))


def test_notes_come_from_the_table_then_the_name_then_the_sound(tmp_path: Path):
    named = _folder(tmp_path / "named", named=True)
    targets = FolderSuite(path=str(tmp_path / "named")).targets(_ctx("dx7"))
    by_name = {t.meta["source"]: t for t in targets}
    for file, midi in named.items():
        t = by_name[file]
        assert t.note.pitch == round(midi) and t.meta["pitch_source"] == "file name"
        assert abs(t.meta["f0_midi"] - midi) < 0.05  # the exact f0 logged beside the written note

    plain = _folder(tmp_path / "plain", named=False)
    for synth, whole in (("dx7", True), ("fm2", False)):
        for t in FolderSuite(path=str(tmp_path / "plain")).targets(_ctx(synth)):
            midi = plain[t.meta["source"]]
            assert t.meta["pitch_source"].endswith("nearest note") == whole
            # the DX7 family plays the nearest key (the patch carries the tuning); others the exact f0
            assert t.note.pitch == (round(midi) if whole else pytest.approx(midi, abs=0.05))

    (tmp_path / "plain" / "notes.csv").write_text("file,note,velocity\ntake_1.wav,C4,64\n")
    first = FolderSuite(path=str(tmp_path / "plain")).targets(_ctx("fm2"))[0]
    assert (first.note.pitch, first.note.velocity, first.meta["pitch_source"]) == (60.0, 64, "sidecar")


def test_a_written_note_the_sound_does_not_confirm_is_used_with_a_warning(tmp_path: Path, capsys):
    root = tmp_path / "wrong"
    root.mkdir()
    sf.write(root / "tone_F#2.wav", tone(69.0), SR)  # named F#2 (42), sounds A4
    target = FolderSuite(path=str(root)).targets(_ctx("fm2"))[0]
    assert target.note.pitch == 42.0
    assert "tone_F#2.wav" in capsys.readouterr().err


@pytest.mark.parametrize("named", [True, False], ids=["note names", "no names"])
def test_fm_match_on_a_folder_of_off_grid_recordings_finishes_every_target(main_cli, workdir, named):
    """The user's first try: a folder of recordings off the equal-tempered grid, fm_match on the DX7,
    every target solved and exit 0; the Dexed check ran at a whole note or says why it did not."""
    files = _folder(workdir / "mine", named)
    args = ["target=folder", f"target.path={workdir / 'mine'}", "solver=fm_match", "synth=dx7"]
    out = main_cli("run", *args, "budget.renders=60", "duration=0.5", "metrics=[match_distance]",
                   "progress=false")  # fmt: skip
    assert out.returncode == 0, out.stderr
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workdir / 'results' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("soundmatch").experiment_id])
    children = [r for r in runs if r.data.tags.get("soundmatch.level") == "target"]
    assert len(children) == len(files) and all(r.info.status == "FINISHED" for r in children)
    for child in children:
        check = child.data.tags["soundmatch.dexed_check"]
        assert check.startswith("ran at MIDI ") or check.startswith("skipped: "), check
        if check.startswith("ran"):
            assert "dexed_lsd" in child.data.metrics


def test_a_results_folder_inside_the_recordings_is_not_read_as_recordings(tmp_path: Path, capsys):
    """Running from the recordings' folder puts results/ (a store and every run's target.wav and
    match.wav) under target.path=.: the folder suite leaves it out, and says so."""
    tone = np.sin(2 * np.pi * 220 * np.arange(8000) / 16000).astype(np.float32)
    sf.write(tmp_path / "take_1.wav", tone, 16000)
    run = tmp_path / "results" / "artifacts" / "1" / "abc" / "artifacts"
    run.mkdir(parents=True)
    (tmp_path / "results" / "mlflow.db").write_bytes(b"")
    for name in ("target.wav", "match.wav"):
        sf.write(run / name, tone, 16000)
    root, files = FolderSuite(path=str(tmp_path)).files()
    assert [f.name for f in files] == ["take_1.wav"]
    err = capsys.readouterr().err
    assert f"skipped {tmp_path / 'results'}: a results folder (it holds mlflow.db)" in err
