"""Loading recorded audio as targets: decode, check, downmix, resample, fit, normalise.

Every problem a user can cause with a file (missing, empty, corrupt, silent,
NaN-filled, too long, a format libsndfile cannot decode) ends in one
:class:`~soundmatch.errors.UserError` that names the file and says what to do.
Only the part of a file that a target needs is read from disk, so a short
target cut from a long recording costs little (see tests/perf/test_targets_audio.py).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from soundmatch.errors import UserError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".mp3")

SILENCE_DBFS = -80.0  # RMS below this (re full scale) counts as silence
MAX_WHOLE_FILE_SECONDS = 1800.0  # a whole-file read beyond this is refused (a segment read is not)
NORMALIZE_MODES = (None, "peak", "rms")
PEAK_LIMIT = 0.999  # loudness normalisation never pushes a sample beyond this
ONSET_SCAN_SECONDS = 5.0  # how far past the offset leading silence is looked for
ONSET_FRAME_SECONDS = 0.01

CONVERT_HINT = "convert it to 16-bit WAV or FLAC (e.g. `ffmpeg -i IN -ac 1 OUT.wav`) or remove it"


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says: rate (Hz), length (frames), channels, format names."""

    path: Path
    sample_rate: int
    frames: int
    channels: int
    format: str
    subtype: str

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def probe(path: str | Path) -> AudioInfo:
    """Read only the header of ``path``; UserError when it is missing, empty or undecodable."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"audio file not found: {path}; check the path (or the dataset's layout)")
    if path.is_dir():
        raise UserError(f"{path} is a folder, not an audio file; name a WAV/FLAC/OGG file")
    if path.stat().st_size == 0:
        raise UserError(f"audio file {path} is empty (0 bytes); re-export it or remove it")
    if not os.access(path, os.R_OK):
        raise UserError(f"audio file {path} cannot be read: permission denied; give read access (chmod +r)")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        reason = str(err).split(":")[-1].strip() or type(err).__name__
        raise UserError(f"cannot decode audio file {path} ({reason}); {CONVERT_HINT}") from None
    if info.frames <= 0 or info.samplerate <= 0 or info.channels <= 0:
        raise UserError(f"audio file {path} holds no samples; re-export it or remove it")
    promised = wav_header_frames(path)
    if promised is not None and promised > info.frames:
        raise UserError(
            f"audio file {path} is truncated: its header promises {promised} samples "
            f"({promised / info.samplerate:.2f} s), the file holds {info.frames} "
            f"({info.frames / info.samplerate:.2f} s); re-export or re-copy it"
        )
    return AudioInfo(
        path, int(info.samplerate), int(info.frames), int(info.channels), info.format, info.subtype
    )


def wav_header_frames(path: Path) -> int | None:
    """Sample frames a PCM WAV file's header promises (its data chunk size), or None when the file
    is not a PCM WAV the standard library reads (libsndfile reports what is actually present)."""
    import wave

    if path.suffix.lower() != ".wav":
        return None
    try:
        with wave.open(str(path), "rb") as handle:
            return int(handle.getnframes())
    except (wave.Error, EOFError, OSError):
        return None


def read_segment(
    path: str | Path, offset: float = 0.0, seconds: float | None = None
) -> tuple[np.ndarray, int]:
    """Samples ``[frames, channels]`` (float32) from ``offset`` s for ``seconds`` s, and the file's rate.

    Only that part of the file is decoded. ``seconds=None`` reads to the end
    (refused past 30 minutes: name a segment instead).
    """
    info = probe(path)
    start = min(info.frames, max(0, int(round(offset * info.sample_rate))))
    if seconds is None:
        if info.seconds - offset > MAX_WHOLE_FILE_SECONDS:
            raise UserError(
                f"audio file {info.path} is {info.seconds / 60:.0f} minutes long; cut it into shorter "
                f"files (at most {MAX_WHOLE_FILE_SECONDS / 60:.0f} minutes) or read a segment of it"
            )
        frames = info.frames - start
    else:
        frames = min(info.frames - start, int(math.ceil(seconds * info.sample_rate)))
    if frames <= 0:
        raise UserError(
            f"audio file {info.path} ends at {info.seconds:.2f} s, before the requested offset "
            f"{offset:.2f} s; choose an earlier offset"
        )
    try:
        data, _ = sf.read(str(info.path), start=start, frames=frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        reason = str(err).split(":")[-1].strip() or type(err).__name__
        raise UserError(f"cannot decode audio file {info.path} ({reason}); {CONVERT_HINT}") from None
    if data.shape[0] == 0:
        raise UserError(f"audio file {info.path} is truncated (no samples could be read); {CONVERT_HINT}")
    if not np.isfinite(data).all():
        raise UserError(f"audio file {info.path} contains NaN or infinite samples; re-export it or remove it")
    return data, info.sample_rate


def to_mono(data: np.ndarray) -> np.ndarray:
    """``[frames, channels]`` -> ``[frames]``: the mean of the channels."""
    return data.mean(axis=1, dtype=np.float32) if data.ndim == 2 else data.astype(np.float32)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling of mono ``audio`` with soxr (its "HQ" quality); float32."""
    if rate_in == rate_out:
        return audio.astype(np.float32, copy=False)
    return soxr.resample(audio, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)


def fit_length(audio: np.ndarray, frames: int) -> np.ndarray:
    """Trim to ``frames`` samples, or pad the end with zeros."""
    if audio.shape[-1] >= frames:
        return audio[..., :frames]
    return np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, frames - audio.shape[-1])])


def rms_dbfs(audio: np.ndarray) -> float:
    """RMS level in dB re full scale (a full-scale square wave is 0 dBFS); -inf for zeros."""
    power = float(np.mean(np.square(audio, dtype=np.float64))) if audio.size else 0.0
    return 10.0 * math.log10(power) if power > 0 else -math.inf


def normalize(audio: np.ndarray, mode: str | None, level_db: float = -20.0) -> np.ndarray:
    """Scale ``audio``: ``peak`` to a peak of ``level_db`` dBFS, ``rms`` to an RMS of ``level_db`` dBFS.

    ``rms`` never lets a sample exceed 0.999 (the gain is lowered instead), so
    a spiky sound may end below the asked level. ``None`` returns it unchanged.
    """
    if mode not in NORMALIZE_MODES:
        raise UserError(f"normalize must be one of {NORMALIZE_MODES}, got {mode!r}")
    if mode is None:
        return audio
    peak = float(np.max(np.abs(audio)))
    if peak == 0.0:
        return audio
    want = 10.0 ** (level_db / 20.0)
    if mode == "peak":
        gain = want / peak
    else:
        gain = min(want / 10.0 ** (rms_dbfs(audio) / 20.0), PEAK_LIMIT / peak)
    return (audio * gain).astype(np.float32)


def onset(audio: np.ndarray, sample_rate: int, below_peak_db: float) -> int:
    """Index of the first 10 ms frame whose RMS is within ``-below_peak_db`` dB of the loudest one."""
    hop = max(1, int(ONSET_FRAME_SECONDS * sample_rate))
    n = len(audio) // hop
    if n == 0:
        return 0
    power = np.square(audio[: n * hop].reshape(n, hop), dtype=np.float64).mean(axis=1)
    if power.max() <= 0:
        return 0
    loud = np.flatnonzero(power >= power.max() * 10.0 ** (below_peak_db / 10.0))
    return int(loud[0]) * hop


def load_audio(
    path: str | Path,
    sample_rate: int,
    duration: float | None = None,
    offset: float = 0.0,
    normalize_mode: str | None = None,
    level_db: float = -20.0,
    trim_db: float | None = None,
) -> np.ndarray:
    """Mono float32 ``[round(sample_rate * duration)]`` from ``path``, starting ``offset`` s in.

    Channels are averaged, the rate converted with soxr, leading silence
    optionally skipped (``trim_db``: the clip starts at the first 10 ms frame
    within that many dB of the loudest frame of the next 5 s), the clip trimmed
    or zero-padded to ``duration`` (the whole file when None) and optionally
    normalised (see :func:`normalize`). A clip whose RMS is below -80 dBFS is
    refused as silent.
    """
    scan = None if duration is None or trim_db is None else duration + ONSET_SCAN_SECONDS
    data, rate = read_segment(path, offset, duration if trim_db is None else scan)
    audio = resample(to_mono(data), rate, sample_rate)
    if trim_db is not None:
        audio = audio[onset(audio, sample_rate, trim_db) :]
    if duration is not None:
        audio = fit_length(audio, int(round(sample_rate * duration)))
    level = rms_dbfs(audio)
    if level < SILENCE_DBFS:
        where = f" from {offset:.2f} s" if offset else ""
        shown = "-inf" if math.isinf(level) else f"{level:.0f}"
        raise UserError(
            f"audio file {path} is silent{where} (RMS {shown} dBFS); choose another file or offset, "
            "or remove it"
        )
    return normalize(audio, normalize_mode, level_db)


def audio_files(folder: Path) -> list[Path]:
    """The audio files directly in ``folder`` (by suffix, :data:`AUDIO_SUFFIXES`), in sorted name order."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
