"""Recorded target suites on tiny NSynth and URMP layouts built here, a folder, and gm_notes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from benchmark.run.targets.base import SuiteContext, suite_registry
from benchmark.run.targets.gm_notes import GM_NOTES_DIR as DATA_DIR
from benchmark.run.targets.recorded import load_targets, split_of
from soundmatch.errors import UserError
from synths.base import Note

SR = 16000


def tone(hz: float, sr: int, seconds: float, amp: float = 0.4) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * hz * t) * np.minimum(1.0, 20 * t)).astype(np.float32)


def ctx(duration: float = 0.5) -> SuiteContext:
    return SuiteContext(None, SR, duration, Note(60.0, 100), torch.device("cpu"))  # type: ignore[arg-type]


def build(options: dict, duration: float = 0.5):
    opts = dict(options)
    return suite_registry.create(opts.pop("name"), **opts).targets(ctx(duration))


# --- NSynth --------------------------------------------------------------------------------------
NSYNTH = [
    ("brass_acoustic_000-060-100", "brass", "acoustic", 60),
    ("brass_acoustic_000-067-100", "brass", "acoustic", 67),
    ("flute_synthetic_001-072-100", "flute", "synthetic", 72),
    ("string_acoustic_002-048-100", "string", "acoustic", 48),
    ("string_acoustic_002-055-100", "string", "acoustic", 55),
    ("keyboard_electronic_003-084-100", "keyboard", "electronic", 84),
]


@pytest.fixture(scope="module")
def nsynth_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nsynth-test")
    (root / "audio").mkdir()
    examples = {}
    for key, family, source, pitch in NSYNTH:
        hz = 440.0 * 2 ** ((pitch - 69) / 12)
        sf.write(root / "audio" / f"{key}.wav", tone(hz, SR, 1.0), SR, subtype="PCM_16")
        examples[key] = {
            "note_str": key,
            "pitch": pitch,
            "velocity": 100,
            "instrument_str": key.rsplit("-", 2)[0],
            "instrument_family_str": family,
            "instrument_source_str": source,
            "sample_rate": SR,
        }
    (root / "examples.json").write_text(json.dumps(examples))
    return root


def test_nsynth_filters_pitch_and_metadata(nsynth_dir: Path) -> None:
    targets = build({"name": "nsynth", "path": str(nsynth_dir), "families": ["brass", "string"],
                     "sources": ["acoustic"], "pitch_min": 50, "pitch_max": 70})  # fmt: skip
    assert [t.name for t in targets] == [
        "brass_acoustic_000-060-100",
        "brass_acoustic_000-067-100",
        "string_acoustic_002-055-100",
    ]
    assert [t.note.pitch for t in targets] == [60, 67, 55]  # the written notes
    assert [t.meta["f0_midi"] for t in targets] == pytest.approx([60, 67, 55], abs=0.05)  # and the exact f0
    assert targets[0].meta["family"] == "brass" and targets[0].meta["pitch_source"].startswith("metadata")
    assert targets[0].audio.shape == (8000,) and targets[0].sample_rate == SR


def test_nsynth_split_is_disjoint_deterministic_and_complete(nsynth_dir: Path) -> None:
    base = {"name": "nsynth", "path": str(nsynth_dir), "test_fraction": 0.5, "seed": 3}
    train = {t.name for t in build({**base, "split": "train"})}
    test = {t.name for t in build({**base, "split": "test"})}
    assert train and test and not train & test
    assert train | test == {k for k, *_ in NSYNTH}
    assert test == {t.name for t in build({**base, "split": "test"})}
    by_inst = build({**base, "split": "test", "split_by": "instrument"})
    insts = {t.meta["instrument"] for t in by_inst}
    train_insts = {t.meta["instrument"] for t in build({**base, "split": "train", "split_by": "instrument"})}
    assert not insts & train_insts
    drawn = build({**base, "n": 2})
    assert len(drawn) == 2 and [t.name for t in drawn] == [t.name for t in build({**base, "n": 2})]


def test_nsynth_wrong_layout_and_missing_files(nsynth_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="target.path is required"):
        build({"name": "nsynth"})
    with pytest.raises(UserError, match="examples.json is missing"):
        build({"name": "nsynth", "path": str(tmp_path)})
    (tmp_path / "examples.json").write_text("{not json")
    (tmp_path / "audio").mkdir()
    with pytest.raises(UserError, match="not valid JSON"):
        build({"name": "nsynth", "path": str(tmp_path)})
    (tmp_path / "examples.json").write_text(json.dumps({"x-060-100": {"pitch": 60}}))
    with pytest.raises(UserError, match="lacks"):
        build({"name": "nsynth", "path": str(tmp_path)})
    entry = {"pitch": 60, "instrument_family_str": "brass", "instrument_source_str": "acoustic"}
    for bad, says in [
        ({"x-060-100": "brass"}, "is a str, not a record"),
        ({"x-060-100": {**entry, "pitch": float("inf")}}, "must be whole MIDI numbers"),
        ({"x-060-100": {**entry, "pitch": 200}}, "not in 0-127"),
        ({"../../x/y": entry}, "is not a file name"),
    ]:
        (tmp_path / "examples.json").write_text(json.dumps(bad))
        with pytest.raises(UserError, match=says):
            build({"name": "nsynth", "path": str(tmp_path)})
    (tmp_path / "examples.json").write_text(json.dumps({"gone_acoustic_000-060-100": entry}))
    with pytest.raises(UserError, match=r"not found: .*gone_acoustic_000-060-100\.wav"):
        build({"name": "nsynth", "path": str(tmp_path)})
    with pytest.raises(UserError, match="no NSynth note"):
        build({"name": "nsynth", "path": str(nsynth_dir), "families": ["vocal"]})


# --- URMP ----------------------------------------------------------------------------------------
URMP_RATE = 48000


def write_stem(folder: Path, stem: str, notes: list[tuple[float, float, float]], seconds: float) -> None:
    """A stem with notes (start s, length s, Hz) in silence, and its F0 file (10 ms rows)."""
    audio = np.zeros(int(seconds * URMP_RATE), dtype=np.float32)
    times = np.arange(0.0, seconds, 0.01)
    f0 = np.zeros_like(times)
    for start, length, hz in notes:
        a = int(start * URMP_RATE)
        audio[a : a + int(length * URMP_RATE)] = tone(hz, URMP_RATE, length)
        f0[(times >= start) & (times < start + length)] = hz
    sf.write(folder / f"AuSep_{stem}.wav", np.stack([audio, audio], 1), URMP_RATE)  # stereo, as found
    np.savetxt(folder / f"F0s_{stem}.txt", np.stack([times, f0], 1), fmt="%.4f", delimiter="\t")


@pytest.fixture(scope="module")
def urmp_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("urmp")
    one = root / "01_Duet_vn_fl"
    one.mkdir()
    write_stem(one, "1_vn_01_Duet", [(0.2, 0.6, 440.0), (1.2, 0.5, 493.88), (2.0, 0.1, 523.25)], 2.5)
    write_stem(one, "2_fl_01_Duet", [(0.1, 1.5, 587.33)], 2.0)
    two = root / "02_Solo_tpt"
    two.mkdir()
    write_stem(two, "1_tpt_02_Solo", [(0.0, 0.8, 349.23), (1.0, 0.8, 392.0)], 2.0)
    (two / "AuMix_02_Solo_tpt.wav").write_bytes(b"")  # other files of the layout are ignored
    return root


def test_urmp_segments_on_silence_with_pitch_from_f0_files(urmp_dir: Path) -> None:
    targets = build({"name": "urmp", "path": str(urmp_dir), "n": None}, duration=0.5)
    names = [t.name for t in targets]
    # the 0.1 s note is shorter than min_seconds (0.25 s) and is dropped
    assert names == ["AuSep_1_vn_01_Duet-000", "AuSep_1_vn_01_Duet-001", "AuSep_2_fl_01_Duet-000",
                     "AuSep_1_tpt_02_Solo-000", "AuSep_1_tpt_02_Solo-001"]  # fmt: skip
    expected_hz = [440.0, 493.88, 587.33, 349.23, 392.0]
    for t, hz in zip(targets, expected_hz, strict=True):
        assert t.note.hz == pytest.approx(hz, rel=1e-3)
        assert t.meta["pitch_source"].startswith("metadata") and t.audio.shape == (8000,)
    assert targets[1].meta["offset"] == pytest.approx(1.2, abs=0.021)
    assert targets[0].meta["instrument"] == "vn" and targets[3].meta["piece"] == "02_Solo_tpt"


def test_urmp_fixed_windows_split_by_stem_and_instrument_filter(urmp_dir: Path) -> None:
    fixed = build({"name": "urmp", "path": str(urmp_dir), "segment": "fixed", "n": None,
                   "instruments": ["fl"], "max_per_stem": None}, duration=0.5)  # fmt: skip
    assert [t.meta["offset"] for t in fixed] == [0.0, 0.5, 1.0, 1.5]
    base = {"name": "urmp", "path": str(urmp_dir), "n": None, "test_fraction": 0.5, "seed": 1}
    train, test = build({**base, "split": "train"}), build({**base, "split": "test"})
    stems_train = {t.meta["source"] for t in train}
    stems_test = {t.meta["source"] for t in test}
    assert stems_train and stems_test and not stems_train & stems_test
    assert len(train) + len(test) == 5


def test_urmp_bad_layouts(urmp_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no \\*/AuSep_\\*.wav"):
        build({"name": "urmp", "path": str(tmp_path)})
    piece = tmp_path / "03_X_vc"
    piece.mkdir()
    sf.write(piece / "AuSep_1_vc_03_X.wav", tone(220, 16000, 1.0), 16000)
    with pytest.raises(UserError, match="F0s_1_vc_03_X.txt is missing"):
        build({"name": "urmp", "path": str(tmp_path)})
    # without the pitch file, pitch=pyin estimates it instead
    (targets,) = build({"name": "urmp", "path": str(tmp_path), "pitch": "pyin", "max_per_stem": 1})
    assert targets.note.hz == pytest.approx(220, rel=0.01) and targets.meta["pitch_source"].startswith("pyin")


# --- folder, gm_notes, load_targets ----------------------------------------------------------------
def test_folder_skips_and_counts_bad_files(tmp_path: Path) -> None:
    (tmp_path / "deep" / "er").mkdir(parents=True)
    sf.write(tmp_path / "a.wav", tone(440, 22050, 1.0), 22050)
    sf.write(tmp_path / "deep" / "er" / "b.flac", tone(330, 48000, 1.0), 48000)
    sf.write(tmp_path / "silent.wav", np.zeros(8000), 8000)
    (tmp_path / "corrupt.ogg").write_bytes(b"OggS" + bytes(50))
    (tmp_path / "readme.txt").write_text("ignored")
    suite = suite_registry.create("folder", path=str(tmp_path))
    targets = suite.targets(ctx())
    assert [t.name for t in targets] == ["a", "deep__er__b"]
    assert targets[0].note.hz == pytest.approx(440, rel=0.01)
    assert targets[0].meta["pitch_source"].split("+")[0] in ("pyin", "crepe")  # tracker, octave-checked
    tags = suite.run_tags()
    assert tags["soundmatch.skipped_files"] == "2"
    assert (
        "corrupt.ogg: cannot decode" in tags["soundmatch.skipped"]
        and "silent.wav" in tags["soundmatch.skipped"]
    )
    with pytest.raises(UserError, match="could be used"):
        suite_registry.create("folder", path=str(tmp_path), split="test", test_fraction=0.0).targets(ctx())


def test_folder_reports_a_sub_folder_it_cannot_list(tmp_path: Path, monkeypatch) -> None:
    """(As root, chmod cannot lock a folder: the walk is made to fail on it instead.)"""
    import os

    (tmp_path / "locked").mkdir()
    sf.write(tmp_path / "a.wav", tone(440, 22050, 1.0), 22050)
    sf.write(tmp_path / "locked" / "b.wav", tone(330, 22050, 1.0), 22050)
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    suite = suite_registry.create("folder", path=str(tmp_path))
    assert [t.name for t in suite.targets(ctx())] == ["a"]
    tags = suite.run_tags()
    assert tags["soundmatch.skipped_files"] == "1" and "cannot list the folder (Permission denied)" in tags[
        "soundmatch.skipped"
    ]


def test_gm_notes_bundle_is_complete_small_and_licensed() -> None:
    rows = list(csv.DictReader(open(DATA_DIR / "notes.csv")))
    files = sorted(p.name for p in DATA_DIR.glob("*.flac"))
    assert files == sorted(r["file"] for r in rows) and len(files) >= 40
    wanted = {"flute", "violin", "trumpet", "clarinet", "cello", "oboe", "french_horn", "electric_piano"}
    counts = {i: sum(r["instrument"] == i for r in rows) for i in wanted}
    assert all(c >= 2 for c in counts.values()), counts
    assert sum(p.stat().st_size for p in DATA_DIR.iterdir()) <= 3_000_000
    assert "MIT license" in (DATA_DIR / "LICENSE-FluidR3_GM.txt").read_text()
    info = sf.info(DATA_DIR / files[0])
    assert info.samplerate == 16000 and info.channels == 1


def test_gm_notes_split_through_load_targets() -> None:
    train = load_targets({"name": "gm_notes", "split": "train"}, duration=0.25)
    test = load_targets({"name": "gm_notes", "split": "test"}, duration=0.25)
    assert len(train) + len(test) == 61 and not {t.name for t in train} & {t.name for t in test}
    violin = [t for t in train + test if t.meta["instrument"] == "violin"]
    assert sorted(t.note.pitch for t in violin) == [57, 69, 81]  # the written notes play
    # the exact f0 (fractional MIDI) is logged beside them, or played with target.pitch=exact
    assert sorted(t.meta["f0_midi"] for t in violin) == pytest.approx([57, 69, 81], abs=0.5)  # 81 starts flat
    exact = load_targets({"name": "gm_notes", "instruments": ["violin"], "pitch": "exact"}, duration=0.25)
    assert [t.note.pitch for t in exact] == [t.meta["f0_midi"] for t in exact]
    assert all(t.meta["pitch_source"] == "metadata+harmonics" for t in exact)
    flutes = load_targets({"name": "gm_notes", "instruments": ["flute"], "normalize": "peak", "level_db": -6})
    assert len(flutes) == 3 and float(flutes[0].audio.abs().max()) == pytest.approx(10 ** (-6 / 20), rel=1e-5)
    with pytest.raises(UserError, match="no instrument 'kazoo'"):
        load_targets({"name": "gm_notes", "instruments": ["kazoo"]})
    with pytest.raises(UserError, match="target.split must be"):
        load_targets({"name": "gm_notes", "split": "validation"})


def test_split_of_is_a_stable_share() -> None:
    keys = [f"file{i}.wav" for i in range(2000)]
    share = np.mean([split_of(k, 0, 0.2) == "test" for k in keys])
    assert share == pytest.approx(0.2, abs=0.03)
    assert [split_of(k, 0, 0.2) for k in keys[:50]] == [split_of(k, 0, 0.2) for k in keys[:50]]
    assert all(split_of(k, 0, 0.0) == "train" for k in keys[:50])


def test_synthetic_targets_are_drawn_over_notes_and_velocities() -> None:
    """target.notes / target.velocities: each target is played at a drawn note and velocity, which it
    keeps (a solver renders at it: re-rendering its true patch at its note gives its audio back), the
    draws are the seed's, and a suite without them plays every target at the task's note."""
    from synths.fm2 import FM2

    ctx = SuiteContext(FM2(), 16000, 0.25, Note(60.0, 100), torch.device("cpu"))
    suite = suite_registry.create("synthetic", n=12, seed=3, notes=[48, 60, 72], velocities=[40, 127])
    targets = suite.targets(ctx)
    played = {(t.note.pitch, t.note.velocity) for t in targets}
    assert {p for p, _ in played} == {48.0, 60.0, 72.0} and {v for _, v in played} == {40, 127}
    for t in targets[:4]:
        again = ctx.synth.render(t.params[None], sample_rate=16000, duration=0.25, note=t.note)[0]
        torch.testing.assert_close(again, t.audio)
    same = suite_registry.create("synthetic", n=12, seed=3, notes=[48, 60, 72], velocities=[40, 127])
    assert [t.note for t in same.targets(ctx)] == [t.note for t in targets]
    plain = suite_registry.create("synthetic", n=4, seed=3).targets(ctx)
    assert all(t.note == Note(60.0, 100) for t in plain)
    with pytest.raises(UserError, match="target.velocities"):
        suite_registry.create("synthetic", velocities=[0])
