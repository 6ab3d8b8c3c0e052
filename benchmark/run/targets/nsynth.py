"""``nsynth``: notes from an NSynth release folder (examples.json + audio/<note_str>.wav)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from benchmark.run.targets.base import SuiteContext, suite_registry
from benchmark.run.targets.recorded import Clip, RecordedSuite
from solvers.base import Target
from soundmatch.errors import UserError

LAYOUT = "an NSynth folder holds examples.json and audio/<note_str>.wav (e.g. nsynth-test/)"


@suite_registry.register("nsynth")
@dataclass
class NSynthSuite(RecordedSuite):
    """Notes of an NSynth release, filtered by instrument family, source and pitch; pitch known.

    Options beyond :class:`RecordedSuite`'s: ``path`` (the release folder),
    ``families`` (e.g. [brass, flute]), ``sources`` (acoustic, electronic,
    synthetic), ``pitch_min`` / ``pitch_max`` (MIDI), ``velocities`` (list or
    null) and ``split_by`` ("file", or "instrument" to keep an instrument's
    notes on one side).
    """

    path: str | None = None
    families: list[str] | None = None
    sources: list[str] | None = None
    pitch_min: int = 0
    pitch_max: int = 127
    velocities: list[int] | None = None
    split_by: str = "file"
    n: int | None = 8  # a release holds thousands of notes: a run takes 8 unless told otherwise

    name = "nsynth"

    def root(self) -> Path:
        if not self.path:
            raise UserError(f"target.path is required for nsynth: {LAYOUT}")
        root = Path(self.path).expanduser()
        if not root.is_dir():
            raise UserError(f"nsynth folder {root} does not exist; {LAYOUT}")
        if not (root / "examples.json").is_file():
            raise UserError(f"{root} is not an NSynth folder: examples.json is missing; {LAYOUT}")
        if not (root / "audio").is_dir():
            raise UserError(f"{root} is not an NSynth folder: audio/ is missing; {LAYOUT}")
        return root

    def examples(self, root: Path) -> dict[str, dict]:
        try:
            with open(root / "examples.json") as fh:
                data = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise UserError(f"{root / 'examples.json'} is not valid JSON ({err}); re-download it") from None
        if not isinstance(data, dict):
            raise UserError(f"{root / 'examples.json'} should map note names to records; {LAYOUT}")
        return data

    def clips(self) -> list[Clip]:
        root = self.root()
        examples = self.examples(root)
        out = []
        where = root / "examples.json"
        for key in sorted(examples):
            ex = examples[key]
            if not isinstance(ex, dict):
                raise UserError(
                    f"{where}: entry '{key}' is a {type(ex).__name__}, not a record with pitch, "
                    "instrument_family_str and instrument_source_str"
                )
            missing = [k for k in ("pitch", "instrument_family_str", "instrument_source_str") if k not in ex]
            if missing:
                raise UserError(f"{where}: entry '{key}' lacks {', '.join(missing)}")
            try:
                pitch = int(ex["pitch"])
                velocity = int(ex.get("velocity", 100))
            except (TypeError, ValueError, OverflowError):
                raise UserError(
                    f"{where}: entry '{key}' has pitch {ex.get('pitch')!r} / velocity "
                    f"{ex.get('velocity')!r}; both must be whole MIDI numbers 0-127"
                ) from None
            if not (0 <= pitch <= 127 and 0 <= velocity <= 127):
                raise UserError(f"{where}: entry '{key}': pitch {pitch} / velocity {velocity} not in 0-127")
            family = str(ex["instrument_family_str"])
            source = str(ex["instrument_source_str"])
            instrument = str(ex.get("instrument_str", key.rsplit("-", 2)[0]))
            if "/" in key or "\\" in key or key in ("", ".", ".."):
                raise UserError(f"{where}: entry name '{key}' is not a file name (it reads outside audio/)")
            if self.families and family not in self.families:
                continue
            if self.sources and source not in self.sources:
                continue
            if not self.pitch_min <= pitch <= self.pitch_max:
                continue
            if self.velocities and velocity not in self.velocities:
                continue
            file = f"audio/{key}.wav"
            group = file if self.split_by == "file" else instrument
            meta = {"instrument": instrument, "family": family, "source_type": source, "velocity": velocity}
            out.append(Clip(key, root / file, file, pitch=pitch, group=group, meta=meta))
        return out

    def targets(self, ctx: SuiteContext) -> list[Target]:
        self.check_options()
        clips = self.select(self.clips())
        if not clips:
            raise UserError(
                f"no NSynth note in {self.path} matches the filters (families, sources, pitch range, split)"
            )
        return [self.load(c, ctx) for c in clips]
