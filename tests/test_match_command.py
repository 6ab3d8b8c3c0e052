"""``python -m benchmark match``: a recording to a patch, its audio, its picture and a page that
plays in a real browser; a user's mistake is one line and exit code 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from chromium import AUDIO_STATE_JS, IMAGES_JS, SKIP_REASON, Browser, find_or_install, page_url

from analysis.pitch import midi_to_hz
from synths.dx7.sysex import read_voices

SR = 16000
FAST = ["budget.renders=40", "duration=0.5", "progress=false"]


def write_tone(path: Path, midi: float) -> None:
    t = np.arange(int(0.6 * SR)) / SR
    f0 = midi_to_hz(midi)
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k**1.5 for k in range(1, 6)) * np.exp(-3.0 * t)
    sf.write(path, (0.3 * wave).astype(np.float32), SR)


@pytest.fixture(scope="module")
def matched(tmp_path_factory) -> tuple[Path, str, Path]:
    """One DX7 match of a tone 20 cents above A3, named with its note: (out folder, stdout, results)."""
    from benchmark.cli.main import main

    root = tmp_path_factory.mktemp("match")
    song = root / "my tone_A3.wav"  # a space: the path reaches Hydra quoted
    write_tone(song, 57.2)
    out, results = root / "out", root / "results"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["match", str(song), f"out={out}", f"results_dir={results}", *FAST])
    assert code == 0
    return out, buffer.getvalue(), results


def test_match_writes_the_patch_audio_picture_and_page(matched):
    out, stdout, results = matched
    name = "my tone_A3"
    for suffix in (".syx", ".match.wav", ".target.wav", ".png"):
        assert (out / f"{name}{suffix}").is_file(), suffix
    assert len(read_voices(out / f"{name}.syx")) == 1  # one voice Dexed can load
    match, sr = sf.read(out / f"{name}.match.wav")
    assert sr == SR and len(match) == SR // 2 and np.abs(match).max() > 1e-3
    page = (out / "index.html").read_text()
    assert f'src="{name}.match.wav"' in page and f'href="{name}.syx"' in page
    # what was measured, printed: the note from the file name, the f0 (20 cents above A3), envelope times
    assert "note 57.0 (file name)" in stdout and "f0 222.5" in stdout and "attack" in stdout
    assert "match_distance" in stdout and "patch:" in stdout

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("match").experiment_id])
    child = next(r for r in runs if r.data.tags.get("soundmatch.level") == "target")
    assert child.data.tags["soundmatch.solver"] == "fm_match"
    assert child.data.tags["soundmatch.target.pitch_source"] == "file name"
    # match's defaults: the loss the benchmark scores, any DX7 algorithm at twice the rate, no per-run picture
    parent = next(r for r in runs if r.data.tags.get("soundmatch.level") != "target")
    assert parent.data.params["loss.name"] == "timbre"
    assert parent.data.params["synth.algorithm"] == "None" and parent.data.params["synth.oversample"] == "2"
    artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
    assert "match.syx" in artifacts and "spectrogram.png" not in artifacts


def test_match_page_plays_in_chromium(matched):
    exe = find_or_install()
    if exe is None:
        pytest.skip(SKIP_REASON)
    browser = Browser(exe)
    try:
        page = browser.open(page_url(matched[0] / "index.html"))
        audios = browser.evaluate(page, AUDIO_STATE_JS)
        images = browser.evaluate(page, IMAGES_JS)
        errors = browser.errors(page)
    finally:
        browser.close()
    assert len(audios) == 2
    assert all(a["error"] is None and a["duration"] == pytest.approx(0.5) for a in audios)
    assert images and all(i["ok"] for i in images)
    assert errors == []


def test_match_on_another_synth_writes_a_readable_preset(main_cli, workdir: Path):
    write_tone(workdir / "tone.wav", 60.0)
    out = workdir / "out"
    result = main_cli("match", str(workdir / "tone.wav"), "synth=moog", f"out={out}", *FAST)
    assert result.returncode == 0, result.stderr
    import json

    preset = json.loads((out / "tone.preset.json").read_text())
    assert preset["synth"] == "moog" and preset["parameters"]
    assert not (out / "tone.syx").exists()
    # without out=, another synth's match goes beside the dx7 one, not over it
    result = main_cli("match", str(workdir / "tone.wav"), "synth=moog", *FAST)
    assert result.returncode == 0 and "results/match/tone-moog" in result.stdout, result.stdout[-500:]
    assert (workdir / "results" / "match" / "tone-moog" / "tone.preset.json").exists()
    result = main_cli("match", str(workdir / "tone.wav"), "synth=dx7_flute", *FAST)  # a preset of dx7
    assert result.returncode == 0 and "results/match/tone-dx7_flute" in result.stdout, result.stdout[-500:]


@pytest.mark.parametrize(
    "args, says",
    [(["nowhere.wav"], "does not exist"), (["notes.txt"], "is not an audio file"),
     (["synth=dx7"], "first argument is the recording"), (["tone.wav", "synth=nosuch"], "unknown synth")],
)
def test_match_mistakes_are_one_line_and_exit_2(main_cli, workdir: Path, args, says):
    write_tone(workdir / "tone.wav", 60.0)
    (workdir / "notes.txt").write_text("hello")
    args = [str(workdir / a) if a.endswith((".wav", ".txt")) else a for a in args]
    result = main_cli("match", *args)
    assert result.returncode == 2 and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
