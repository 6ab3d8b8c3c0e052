"""The render command: a DX7 voice from a .syx file to a WAV file, checked against Dexed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from benchmark.cli.main import main
from benchmark.studies.fidelity_voices import fidelity_voices
from metrics.lsd import log_spectral_distance
from synths.dx7 import sysex
from synths.dx7.reference import DexedRenderer

pytest.importorskip("dexed")


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("render") / "study.syx"
    sysex.write_bank(path, fidelity_voices())
    return path


def test_render_writes_the_voice_close_to_dexed(bank: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "organ.wav"
    args = ["render", "synth=dx7", f"patch={bank}", "voice=4", "note=60", "velocity=100"]
    assert main([*args, "hold=1.0", "sample_rate=16000", f"out={out}", "tail=0.25"]) == 0
    assert "ORGAN" in capsys.readouterr().out
    audio, rate = sf.read(str(out), dtype="float32")
    assert rate == 16000 and audio.shape == (20000,)
    voice = sysex.read_voices(bank)[4]
    ref = DexedRenderer().render(voice, pitch=60, velocity=100, hold=1.0, duration=1.25, sample_rate=16000)
    # the held part of a steady organ: engine and reference agree closely
    assert log_spectral_distance(audio[4000:16000], ref[4000:16000]) < 3.0
    assert np.abs(audio[16000:]).max() > 0  # the release tail is rendered


def test_render_with_dexed_is_dexed(bank: Path, tmp_path: Path) -> None:
    out = tmp_path / "bass.wav"
    assert main(["render", "synth=dexed", f"patch={bank}", "voice=3", "hold=0.5", f"out={out}"]) == 0
    audio, _ = sf.read(str(out), dtype="float32")
    voice = sysex.read_voices(bank)[3]
    ref = DexedRenderer().render(voice, pitch=60, velocity=100, hold=0.5, duration=0.5, sample_rate=16000)
    np.testing.assert_allclose(audio, ref, atol=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["voice=40"], "bad value voice='40': expected a whole number in 0..31"),
        (["hold=-1"], "bad value hold='-1': expected a number > 0.0"),
        (["pitch=60"], "unknown option 'pitch'"),
        (["velocty=60"], "unknown option 'velocty' (did you mean 'velocity'?)"),
        (["synth=fm2"], "needs a DX7-family synth, got synth 'fm2'"),
        (["synth=nope"], "unknown synth 'nope'"),
        (["oops"], "expected key=value arguments, got 'oops'"),
    ],
)
def test_render_errors_are_one_line(bank: Path, tmp_path: Path, capsys, args, message) -> None:
    code = main(["render", f"patch={bank}", f"out={tmp_path / 'x.wav'}", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_render_needs_a_source_and_a_voice_that_exists(tmp_path: Path, capsys) -> None:
    single = tmp_path / "one.syx"
    sysex.write_single(single, fidelity_voices()[0])
    assert main(["render", f"patch={single}", "voice=1", f"out={tmp_path / 'x.wav'}"]) == 2
    assert "holds 1 voice(s); voice=1 is outside 0-0" in capsys.readouterr().err
    assert main(["render", f"out={tmp_path / 'x.wav'}"]) == 2
    assert "give exactly one source, patch=..." in capsys.readouterr().err
    for out, message in (
        (tmp_path, "is a folder; name a file in it"),
        (tmp_path / "x.flac", "must end in .wav"),
        (tmp_path / "no" / "such" / "x.wav", "does not exist; create"),
    ):
        assert main(["render", f"patch={single}", f"out={out}"]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "no").exists()  # nothing created behind the user's back
    bad = tmp_path / "bad.syx"
    bad.write_bytes(b"\xf0\x43\x00\x09\x20\x00" + bytes(100))
    assert main(["render", f"patch={bad}", f"out={tmp_path / 'x.wav'}"]) == 2
    assert "bad.syx: truncated 32-voice bank" in capsys.readouterr().err
