"""The DX7 preset corpus: banks read under a folder, broken files skipped and named, presets
de-duplicated by sound (not name), split by bank as a function of content."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from benchmark.run.targets.base import SuiteContext
from benchmark.run.targets.dx7_presets import DX7PresetsSuite, read_corpus
from soundmatch.errors import UserError
from synths.base import Note, synth_registry
from synths.dx7.sysex import write_bank, write_single

SR = 8000


def made_voices(n: int, seed: int):
    synth = synth_registry.create("dx7", algorithm=None)
    return [synth.unit_to_voice(x) for x in synth.sample(n, torch.Generator().manual_seed(seed))]


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """6 banks of 32 made voices; bank 5 repeats 3 voices of bank 0 under new names; one single
    voice; one broken file; one text file."""
    root = tmp_path / "banks"
    (root / "sub").mkdir(parents=True)
    banks = [made_voices(32, seed) for seed in range(6)]
    for i in range(3):
        twin = copy.deepcopy(banks[0][i])
        twin.name = f"COPY {i}"
        banks[5][i] = twin
    for i, voices in enumerate(banks):
        write_bank((root if i % 2 else root / "sub") / f"bank{i}.syx", voices)
    write_single(root / "single.syx", made_voices(1, 99)[0])
    (root / "broken.syx").write_bytes(b"\xf0\x43\x00\x09\x20\x00" + bytes(100) + b"\xf7")
    (root / "readme.txt").write_text("not a bank")
    return root


def ctx() -> SuiteContext:
    synth = synth_registry.create("dx7", algorithm=None)
    return SuiteContext(synth, SR, 0.25, Note(60.0), torch.device("cpu"))


def test_the_corpus_is_read_deduplicated_by_sound_and_broken_files_named(corpus_dir, capsys):
    corpus = read_corpus(corpus_dir)
    assert corpus.voices_read == 6 * 32 + 1 and corpus.duplicates == 3
    assert len(corpus.presets) == 6 * 32 + 1 - 3
    assert [src for src, _ in corpus.skipped] == ["broken.syx"]
    assert "broken.syx" in capsys.readouterr().err


def test_the_split_is_by_bank_and_a_function_of_content(corpus_dir, tmp_path):
    suite = DX7PresetsSuite(path=str(corpus_dir), split="test", test_fraction=0.5, seed=3)
    test = suite.targets(ctx())
    train = DX7PresetsSuite(path=str(corpus_dir), split="train", test_fraction=0.5, seed=3).targets(ctx())
    test_banks = {t.meta["bank_hash"] for t in test}
    assert test_banks and not test_banks & {t.meta["bank_hash"] for t in train}
    assert len(test) + len(train) == 6 * 32 + 1 - 3  # every audible preset once (one note, one velocity)
    assert suite.run_tags()["soundmatch.skipped_files"] == "1"
    # renamed and moved files: the same split and the same corpus hash
    moved = tmp_path / "moved"
    moved.mkdir()
    for i, f in enumerate(sorted(corpus_dir.rglob("*.syx"))):
        (moved / f"renamed_{i}.syx").write_bytes(f.read_bytes())
    again = DX7PresetsSuite(path=str(moved), split="test", test_fraction=0.5, seed=3)
    banks = sorted(t.meta["bank_hash"] for t in again.targets(ctx()))
    assert banks == sorted(t.meta["bank_hash"] for t in test)
    assert again.run_tags()["soundmatch.corpus_hash"] == suite.run_tags()["soundmatch.corpus_hash"]


def test_presets_are_played_at_every_note_and_velocity_with_their_ground_truth(corpus_dir):
    targets = DX7PresetsSuite(path=str(corpus_dir), n=4, notes=[48, 72], velocities=[60, 120]).targets(ctx())
    assert len(targets) == 4 * 2 * 2
    assert {(t.note.pitch, t.note.velocity) for t in targets} == {(48, 60), (48, 120), (72, 60), (72, 120)}
    assert all(t.params is not None and t.audio.shape == (SR // 4,) for t in targets)


@pytest.mark.parametrize(
    "options, says",
    [({}, "needs target.path"), ({"split": "dev"}, "target.split"), ({"velocities": [0]}, "velocities"),
     ({"notes": []}, "notes")],
)
def test_bad_options_are_one_clear_error(corpus_dir, options, says):
    with pytest.raises(UserError, match=says):
        DX7PresetsSuite(**{"path": str(corpus_dir), **options} if options else {}).targets(ctx())


def test_a_voice_out_of_range_is_left_out_alone(tmp_path, capsys):
    """A library bank with one voice holding 127 in a 0-99 field keeps its other 31 voices."""
    from synths.dx7.sysex import FORMAT_BANK, PACKED_SIZE, _frame, pack, read_voices, voice_values

    root = tmp_path / "lib"
    root.mkdir()
    voices = made_voices(32, 7)
    body = bytearray(b"".join(pack(voice_values(v)) for v in voices))
    body[3 * PACKED_SIZE] = 127  # voice 3, OP6 R1
    (root / "dirty.syx").write_bytes(_frame(FORMAT_BANK, len(body), bytes(body), 1))
    with pytest.raises(UserError, match="voice 3"):
        read_voices(root / "dirty.syx")  # a strict read refuses the file, as before
    corpus = read_corpus(root)
    assert len(corpus.presets) == 31 and corpus.skipped == [] and len(corpus.bad_voices) == 1
    assert "dirty.syx voice 3" in capsys.readouterr().err
