"""Loading audio files as targets: conversions, and one clear error for every bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from benchmark.run import audio as audio_mod
from benchmark.run.audio import fit_length, load_audio, normalize, probe, rms_dbfs
from soundmatch.errors import UserError


def sine(freq: float, sr: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(sr * seconds)) / sr)).astype(np.float32)


def dominant_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * sr / len(x))


def test_stereo_48k_is_downmixed_resampled_and_fit(tmp_path: Path) -> None:
    left, right = sine(1000, 48000, 1.5, 0.4), sine(1000, 48000, 1.5, 0.2)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, right], axis=1), 48000)
    x = load_audio(path, 16000, duration=1.0)
    assert x.dtype == np.float32 and x.shape == (16000,)
    assert dominant_hz(x, 16000) == pytest.approx(1000, abs=2)
    # the mono mix of amplitudes 0.4 and 0.2 in phase is 0.3: RMS 0.3 / sqrt(2)
    assert np.sqrt(np.mean(x[1000:-1000] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=2e-3)


def test_short_file_is_zero_padded_and_offset_reads_the_right_part(tmp_path: Path) -> None:
    sr = 16000
    sig = np.concatenate([sine(440, sr, 0.5), sine(880, sr, 0.5)])
    path = tmp_path / "two.wav"
    sf.write(path, sig, sr, subtype="FLOAT")
    x = load_audio(path, sr, duration=2.0)
    assert x.shape == (32000,) and np.all(x[16000:] == 0)
    np.testing.assert_allclose(x[:16000], sig, atol=1e-7)
    second = load_audio(path, sr, duration=0.5, offset=0.5)
    assert dominant_hz(second, sr) == pytest.approx(880, abs=4)


def test_odd_encodings_decode(tmp_path: Path) -> None:
    sig = sine(500, 8000, 1.0)
    for subtype, suffix in [("PCM_U8", "wav"), ("ULAW", "wav"), ("IMA_ADPCM", "wav"), ("PCM_24", "flac")]:
        path = tmp_path / f"x_{subtype}.{suffix}"
        sf.write(path, sig, 8000, subtype=subtype)
        x = load_audio(path, 16000, duration=1.0)
        assert dominant_hz(x, 16000) == pytest.approx(500, abs=3), subtype
    for fmt, subtype, suffix in [
        ("OGG", "VORBIS", "ogg"),
        ("MP3", "MPEG_LAYER_III", "mp3"),
        ("WAV", "DOUBLE", "wav"),
    ]:
        path = tmp_path / f"y_{subtype}.{suffix}"
        sf.write(path, sine(500, 44100, 1.0), 44100, format=fmt, subtype=subtype)
        assert dominant_hz(load_audio(path, 16000, 1.0), 16000) == pytest.approx(500, abs=3), subtype


def test_normalisation_levels() -> None:
    x = sine(440, 16000, 1.0, amp=0.1)
    assert np.max(np.abs(normalize(x, "peak", -6.0))) == pytest.approx(10 ** (-6 / 20), rel=1e-6)
    assert rms_dbfs(normalize(x, "rms", -20.0)) == pytest.approx(-20.0, abs=1e-4)
    # rms normalisation never clips: a sine asked for -1 dBFS RMS stops at peak 0.999
    assert np.max(np.abs(normalize(x, "rms", -1.0))) == pytest.approx(0.999, rel=1e-6)
    assert normalize(x, None) is x
    with pytest.raises(UserError, match="normalize"):
        normalize(x, "lufs")
    assert fit_length(np.ones(3), 5).tolist() == [1, 1, 1, 0, 0]


def _truncated(path: Path, frames: int) -> None:
    """A 16-bit WAV whose header says 1 s but whose data stops after ``frames`` samples."""
    sf.write(path, sine(300, 16000, 1.0), 16000, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[: 44 + 2 * frames])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "not found"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt junk" + bytes(64)), "cannot decode"),
        (lambda p: p.write_text("this is not audio"), "cannot decode"),
        (lambda p: sf.write(p, np.zeros(16000), 16000), "silent"),
        (lambda p: sf.write(p, np.full(16000, 1e-6), 16000, subtype="FLOAT"), "silent"),
        (lambda p: sf.write(p, np.full(16000, np.nan), 16000, subtype="FLOAT"), "NaN"),
        (lambda p: sf.write(p, np.stack([sine(300, 16000, 1), -sine(300, 16000, 1)], 1), 16000), "silent"),
        (lambda p: _truncated(p, 3200), "truncated: its header promises 16000 samples"),
        (lambda p: _truncated(p, 8), "truncated"),
    ],
    ids=["missing", "empty", "corrupt", "text", "zeros", "near-silent", "nan", "phase-cancelling-stereo",
         "truncated", "truncated-to-a-few-samples"],
)
def test_bad_files_give_one_clear_error_naming_the_file(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(UserError, match=message) as err:
        load_audio(path, 16000, duration=1.0)
    text = str(err.value)
    assert str(path) in text and "\n" not in text


def test_folder_offset_past_end_and_overlong_whole_reads(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(UserError, match="is a folder"):
        probe(tmp_path)
    path = tmp_path / "tone.wav"
    sf.write(path, sine(440, 16000, 2.0), 16000)
    with pytest.raises(UserError, match="before the requested offset"):
        load_audio(path, 16000, duration=1.0, offset=3.0)
    monkeypatch.setattr(audio_mod, "MAX_WHOLE_FILE_SECONDS", 1.0)
    with pytest.raises(UserError, match="minutes long"):
        load_audio(path, 16000, duration=None)
    assert load_audio(path, 16000, duration=1.0).shape == (16000,)  # a segment is still fine


def test_leading_silence_is_skipped_when_asked(tmp_path: Path) -> None:
    sr = 16000
    sig = np.concatenate([np.zeros(int(0.7 * sr)), 1e-4 * np.ones(800), sine(440, sr, 1.0)])
    path = tmp_path / "late.wav"
    sf.write(path, sig, sr, subtype="FLOAT")
    with pytest.raises(UserError, match="silent"):
        load_audio(path, sr, duration=0.5)  # the first 0.5 s hold only silence
    trimmed = load_audio(path, sr, duration=0.5, trim_db=-40.0)
    start = int(0.7 * sr) + 800  # the hum is 74 dB below the tone: skipped too
    np.testing.assert_allclose(trimmed, sig[start : start + sr // 2], atol=1e-7)


def test_an_unreadable_file_says_permission_denied(tmp_path: Path, monkeypatch) -> None:
    """(Tests may run as root, whom chmod does not stop: the permission is denied by os.access.)"""
    import os

    path = tmp_path / "locked.wav"
    sf.write(path, sine(300, 16000, 1), 16000)
    real = os.access

    def access(p, mode, **kw):
        return False if str(p) == str(path) else real(p, mode, **kw)

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(UserError, match="cannot be read: permission denied; give read access") as err:
        load_audio(path, 16000, duration=1.0)
    assert "convert" not in str(err.value)
