"""``urmp``: segments of the URMP stems (one folder per piece, AuSep_*.wav + F0s_*.txt)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.run.audio import SILENCE_DBFS, normalize, read_segment, resample, rms_dbfs, to_mono
from benchmark.run.targets.base import SuiteContext, suite_registry
from benchmark.run.targets.recorded import Clip, RecordedSuite, split_of
from solvers.base import Target
from soundmatch.errors import UserError
from soundmatch.seeding import derive_seed
from synths.base import Note

LAYOUT = (
    "a URMP folder holds one folder per piece (e.g. 01_Jupiter_vn_vc/) with stems "
    "AuSep_<n>_<instrument>_<piece>.wav and pitch files F0s_<n>_<instrument>_<piece>.txt"
)
SEGMENT_MODES = ("silence", "fixed")
FRAME_SECONDS = 0.02  # the level envelope's frame for finding silence


def read_f0(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and f0 (Hz, 0 where silent) from a URMP F0s_*.txt file (two numeric columns)."""
    try:
        table = np.loadtxt(path, ndmin=2, delimiter=None)
    except ValueError as err:
        raise UserError(
            f"cannot read URMP pitch file {path} ({err}); it needs two columns: time, f0"
        ) from None
    if table.shape[1] < 2 or table.shape[0] == 0:
        raise UserError(f"URMP pitch file {path} needs two columns (time in s, f0 in Hz) and some rows")
    return table[:, 0], table[:, 1]


def active_regions(
    audio: np.ndarray, sample_rate: int, silence_db: float, min_gap: float
) -> list[tuple[int, int]]:
    """Sample ranges ``[start, end)`` where the level is within ``-silence_db`` dB of the loudest frame.

    Levels are RMS over 20 ms frames; quiet gaps shorter than ``min_gap`` s do
    not split a region.
    """
    hop = max(1, int(FRAME_SECONDS * sample_rate))
    n = len(audio) // hop
    if n == 0:
        return []
    power = np.square(audio[: n * hop].reshape(n, hop), dtype=np.float64).mean(axis=1)
    level = 10.0 * np.log10(np.maximum(power, 1e-20))
    active = level >= max(level.max() + silence_db, SILENCE_DBFS)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])))
    runs = [[int(a), int(b)] for a, b in zip(edges[::2], edges[1::2], strict=True)]
    merged: list[list[int]] = []
    gap = int(round(min_gap / FRAME_SECONDS))
    for run in runs:
        if merged and run[0] - merged[-1][1] < gap:
            merged[-1][1] = run[1]
        else:
            merged.append(run)
    return [(a * hop, b * hop) for a, b in merged]


@suite_registry.register("urmp")
@dataclass
class URMPSuite(RecordedSuite):
    """Notes and phrases cut from URMP's separated stems; pitch from the dataset's F0 files.

    Options beyond :class:`RecordedSuite`'s: ``path`` (the dataset folder),
    ``instruments`` (URMP codes: vn, va, vc, db, fl, ob, cl, sax, bn, tpt, hn,
    tbn, tba; null: all), ``segment`` ("silence": one target from the start of
    every sounding region, regions split by quiet gaps of ``min_gap`` s more
    than ``silence_db`` dB below the stem's loudest frame; "fixed": consecutive
    windows of the task's duration, silent ones dropped), ``min_seconds``
    (shortest region kept) and ``max_per_stem`` (segments per stem; null: all).
    The split is by stem file: a stem's segments are all train or all test.
    """

    path: str | None = None
    instruments: list[str] | None = None
    segment: str = "silence"
    silence_db: float = -40.0
    min_gap: float = 0.1
    min_seconds: float = 0.25
    max_per_stem: int | None = 4
    n: int | None = 8  # a run takes 8 segments unless told otherwise

    name = "urmp"

    def stems(self) -> list[tuple[Path, Path, str]]:
        """(stem wav, F0 file, instrument code) of every stem, sorted by path."""
        if not self.path:
            raise UserError(f"target.path is required for urmp: {LAYOUT}")
        root = Path(self.path).expanduser()
        if not root.is_dir():
            raise UserError(f"URMP folder {root} does not exist; {LAYOUT}")
        wavs = sorted(root.glob("*/AuSep_*.wav"))
        if not wavs:
            raise UserError(f"{root} has no */AuSep_*.wav stems; {LAYOUT}")
        out = []
        for wav in wavs:
            parts = wav.stem.split("_")
            if len(parts) < 4:
                raise UserError(f"URMP stem {wav} is not named AuSep_<n>_<instrument>_<piece>.wav; {LAYOUT}")
            f0 = wav.with_name("F0s_" + wav.stem[len("AuSep_") :] + ".txt")
            if not f0.is_file() and self.pitch == "auto":
                raise UserError(
                    f"URMP pitch file {f0} is missing for stem {wav.name}; restore it, or set "
                    "target.pitch=pyin to estimate the pitch"
                )
            out.append((wav, f0, parts[2]))
        return out

    def segments(self, audio: np.ndarray, rate: int, frames: int) -> list[tuple[int, int]]:
        """Sample ranges of the targets cut from one stem (at most ``max_per_stem``)."""
        if self.segment == "fixed":
            starts = range(0, max(1, len(audio) - frames + 1), frames)
            ranges = [(s, min(s + frames, len(audio))) for s in starts]
            ranges = [r for r in ranges if rms_dbfs(audio[r[0] : r[1]]) >= SILENCE_DBFS]
            loudest = max((rms_dbfs(audio[a:b]) for a, b in ranges), default=-np.inf)
            ranges = [r for r in ranges if rms_dbfs(audio[r[0] : r[1]]) >= loudest + self.silence_db]
        else:
            regions = active_regions(audio, rate, self.silence_db, self.min_gap)
            ranges = [(a, min(b, a + frames)) for a, b in regions if (b - a) / rate >= self.min_seconds]
        return ranges[: self.max_per_stem] if self.max_per_stem is not None else ranges

    def targets(self, ctx: SuiteContext) -> list[Target]:
        self.check_options()
        if self.segment not in SEGMENT_MODES:
            raise UserError(f"target.segment must be one of {SEGMENT_MODES}, got '{self.segment}'")
        root = Path(str(self.path)).expanduser()
        stems = [s for s in self.stems() if not self.instruments or s[2] in self.instruments]
        if not stems:
            raise UserError(f"no URMP stem in {root} is of the instruments {self.instruments}")
        # the split and the draw are per stem, so only the stems needed are decoded
        stems = [s for s in stems if self.split in ("all", self.select_split(s[0].relative_to(root)))]
        if self.n is not None:
            rng = np.random.default_rng(derive_seed(self.seed, "draw", self.name))
            stems = [stems[i] for i in rng.permutation(len(stems))]
        frames = int(round(ctx.duration * ctx.sample_rate))
        out: list[Target] = []
        for wav, f0_path, inst in stems:
            data, rate = read_segment(wav)
            audio = resample(to_mono(data), rate, ctx.sample_rate)
            times, f0 = read_f0(f0_path) if f0_path.is_file() else (np.zeros(0), np.zeros(0))
            rel = str(wav.relative_to(root))
            for k, (a, b) in enumerate(self.segments(audio, ctx.sample_rate, frames)):
                t0, t1 = a / ctx.sample_rate, b / ctx.sample_rate
                voiced = (times >= t0) & (times < t1) & (f0 > 0)
                pitch = Note.from_hz(float(np.median(f0[voiced]))).pitch if voiced.any() else None
                clip = Clip(f"{wav.stem}-{k:03d}", wav, rel, offset=round(t0, 3), pitch=pitch, group=rel)
                clip.meta.update(instrument=inst, piece=wav.parent.name, split=self.select_split(Path(rel)))
                piece = np.zeros(frames, dtype=np.float32)
                piece[: b - a] = audio[a:b]
                out.append(self.make_target(clip, normalize(piece, self.normalize, self.level_db), ctx))
                if self.n is not None and len(out) >= self.n:
                    return out
        if not out:
            raise UserError(f"no sounding segment found in the URMP stems under {root}; check silence_db")
        return out

    def select_split(self, rel: Path) -> str:
        return split_of(str(rel), self.seed, self.test_fraction)
