"""What every suite of recorded audio shares: options, train/test split, pitch, and the Target itself.

A recorded suite lists *clips* (a source file, an offset, maybe a known pitch),
keeps those of the requested split, optionally draws ``n`` of them with its
seed, and loads each one at the task's rate and duration
(:func:`benchmark.run.audio.load_audio`). The split is decided per *source file*
(or per instrument) by a hash of its name and the suite's seed, so segments of
one recording never land on both sides, and adding files never moves others.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from analysis.pitch import F0Estimate, estimate_f0
from benchmark.run.audio import load_audio
from benchmark.run.targets.base import SuiteContext, TargetSuite
from solvers.base import Target
from soundmatch.errors import UserError
from soundmatch.seeding import derive_seed
from synths.base import Note

SPLITS = ("all", "train", "test")
SPLIT_BY = ("file", "instrument")
PITCH_MODES = ("auto", "exact", "pyin", "config")


def check_split_options(split: str, test_fraction: float, n: int | None) -> None:
    """One clear error for a bad ``target.split``, ``target.test_fraction`` or ``target.n``."""
    if split not in SPLITS:
        raise UserError(f"target.split must be one of {SPLITS}, got '{split}'")
    if not 0.0 <= test_fraction <= 1.0:
        raise UserError(f"target.test_fraction must be in [0, 1], got {test_fraction}")
    if n is not None and n < 1:
        raise UserError(f"target.n must be >= 1 or null, got {n}")


def split_of(key: str, seed: int, test_fraction: float) -> str:
    """``"test"`` for a ``test_fraction`` share of keys (by a seeded hash), else ``"train"``."""
    return "test" if derive_seed(seed, "split", key) / 2**63 < test_fraction else "train"


@dataclass
class Clip:
    """One target to be: ``seconds`` (None: the task's duration) of ``path`` from ``offset`` s.

    ``pitch`` is the MIDI pitch when the dataset says it; ``group`` is the unit
    of the train/test split (the source file unless a suite says otherwise).
    """

    name: str
    path: Path
    source: str
    offset: float = 0.0
    pitch: float | None = None
    group: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class RecordedSuite(TargetSuite):
    """Options every recorded suite has (subclasses add their own fields after these).

    Args:
        split: "all", "train" or "test".
        test_fraction: share of source files (or instruments) in the test split.
        seed: seeds the split and the draw of ``n`` clips.
        n: at most this many targets, drawn with ``seed`` (null: all).
        normalize: null (as recorded), "peak" or "rms" (see benchmark.run.audio.normalize).
        level_db: the peak or RMS level in dBFS that ``normalize`` aims at.
        pitch: "auto" (the dataset's written note when known -- the synth's own
            tuning parameters match the rest, so an exported DX7 patch plays in tune
            -- else the exact f0 estimated), "exact" (the exact f0 as fractional
            MIDI: the written note tuned on the clip's harmonics, else the tracker's
            reading checked for octave errors; see analysis.pitch.estimate_f0),
            "pyin" (always estimate, with pYIN), or "config" (the run's
            ``note.pitch`` for every target). The source is logged as the target's
            ``pitch_source``; the exact f0 (``f0_hz``, ``f0_midi``) is logged too.
        trim_db: skip leading silence: start at the first 10 ms frame within this
            many dB of the loudest (e.g. -40); null keeps the file's start.
    """

    split: str = "all"
    test_fraction: float = 0.2
    label_keys = ("split",)
    seed: int = 0
    n: int | None = None
    normalize: str | None = None
    level_db: float = -20.0
    pitch: str = "auto"
    trim_db: float | None = None

    def check_options(self) -> None:
        check_split_options(self.split, self.test_fraction, self.n)
        if self.pitch not in PITCH_MODES:
            raise UserError(f"target.pitch must be one of {PITCH_MODES}, got '{self.pitch}'")
        split_by = getattr(self, "split_by", None)  # suites that know instruments can keep them together
        if split_by is not None and split_by not in SPLIT_BY:
            raise UserError(f"target.split_by must be one of {SPLIT_BY}, got '{split_by}'")

    def select(self, clips: list[Clip]) -> list[Clip]:
        """The clips of the configured split, then ``n`` of them drawn with the seed (order kept)."""
        for clip in clips:
            clip.meta["split"] = split_of(clip.group or clip.source, self.seed, self.test_fraction)
        if self.split != "all":
            clips = [c for c in clips if c.meta["split"] == self.split]
        if self.n is not None and self.n < len(clips):
            rng = np.random.default_rng(derive_seed(self.seed, "draw", self.name))
            keep = np.sort(rng.choice(len(clips), size=self.n, replace=False))
            clips = [clips[i] for i in keep]
        return clips

    def note_for(
        self, clip: Clip, audio: np.ndarray, ctx: SuiteContext
    ) -> tuple[Note, str, F0Estimate | None]:
        """The note the synth plays for this clip, where its pitch came from, and the exact f0
        (the written note tuned on the clip's harmonics, when the dataset gives one)."""
        velocity = int(clip.meta.get("velocity", ctx.note.velocity))
        written = None if clip.pitch is None else float(clip.pitch)
        exact = None if written is None else estimate_f0(audio, ctx.sample_rate, hint_midi=written)
        if exact is not None and exact.backend == "metadata" and "note_from" in clip.meta:
            # a user's written note that no harmonic series or tracker reading confirms: say so, keep it
            print(
                f"warning: {clip.source}: its {clip.meta['note_from']} says MIDI {clip.pitch}, but no "
                "harmonic series sounds within a semitone of it; used as written (fix it, or "
                "target.note_names=false to read the note from the sound)",
                file=sys.stderr,
            )
        if self.pitch == "config":
            return ctx.note, "config", exact
        if clip.pitch is not None and self.pitch == "auto":
            # the written note: a DX7 patch plays integer notes, so its tuning lives in the voice
            # (fm_match sets coarse/fine/detune from the measured f0), and match.syx plays in tune
            return Note(float(clip.pitch), velocity), str(clip.meta.get("note_from", "metadata")), exact
        # the exact f0 as fractional MIDI: the written note fixes the octave and the harmonics tune it;
        # without one, the tracker's reading is checked against the harmonic spectrum for octave errors
        if self.pitch == "exact" and exact is not None:
            estimate = exact
        else:
            backend = "pyin" if self.pitch == "pyin" else "auto"
            estimate = estimate_f0(audio, ctx.sample_rate, backend=backend)
        if estimate.midi is None or not math.isfinite(estimate.midi):
            return ctx.note, "config", exact  # unpitched sound: the run's note
        if getattr(ctx.synth, "whole_notes", False):
            # played at the nearest key, as the exported patch will be; the exact f0 is logged and the
            # synth's tuning parameters (DX7: coarse/fine/detune) carry the rest
            return Note(float(round(estimate.midi)), velocity), f"{estimate.backend}, nearest note", estimate
        return Note(round(estimate.midi, 4), velocity), estimate.backend, exact

    def load(self, clip: Clip, ctx: SuiteContext) -> Target:
        """Load one clip as a Target at the task's rate and duration."""
        audio = load_audio(
            clip.path, ctx.sample_rate, ctx.duration, clip.offset, self.normalize, self.level_db, self.trim_db
        )
        return self.make_target(clip, audio, ctx)

    def make_target(self, clip: Clip, audio: np.ndarray, ctx: SuiteContext) -> Target:
        """A Target from a clip's audio (already at the task's rate, length and level)."""
        note, source, exact = self.note_for(clip, audio, ctx)
        meta = {"suite": self.name, "source": clip.source, "offset": clip.offset, **clip.meta}
        meta.update(pitch=note.pitch, pitch_source=source)
        if exact is not None:  # the exact f0 beside the written note
            meta.update({k: v for k, v in exact.as_log().items() if k != "f0_octave_shift"})
        return Target(torch.from_numpy(audio), ctx.sample_rate, clip.name, note=note, meta=meta)


def load_targets(
    options: dict[str, Any],
    sample_rate: int = 16000,
    duration: float = 1.0,
    note: Note | None = None,
) -> list[Target]:
    """The targets of a recorded suite given as a config dict, outside any run.

    ``load_targets({"name": "gm_notes", "split": "train"})`` returns the train
    split of the bundled notes at 16 kHz, 1 s each. ``note`` is the fallback
    for unpitched clips (default middle C). Inside a run, solvers get the same
    through ``Task.load_suite``.
    """
    from benchmark.run.targets.base import suite_registry

    suite = suite_registry.from_spec(options, "the suite options")
    if suite.uses_synth:
        raise UserError(f"suite '{options['name']}' needs a synth; load_targets is for recorded suites")
    ctx = SuiteContext(None, sample_rate, duration, note or Note(), torch.device("cpu"))  # type: ignore[arg-type]
    return suite.targets(ctx)
