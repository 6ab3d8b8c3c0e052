"""``gm_notes``: the bundled real instrument notes (FluidR3 GM soundfont, 16 kHz mono)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from benchmark.paths import DATA_DIR
from benchmark.run.targets.base import SuiteContext, suite_registry
from benchmark.run.targets.recorded import Clip, RecordedSuite
from solvers.base import Target
from soundmatch.errors import UserError

GM_NOTES_DIR = DATA_DIR / "gm_notes"


@suite_registry.register("gm_notes")
@dataclass
class GMNotesSuite(RecordedSuite):
    """61 recorded notes of 21 instruments (flute, violin, trumpet, clarinet, cello, oboe, horn, ...).

    Rendered from the MIT-licensed FluidR3 GM soundfont by
    ``python -m benchmark.data.make_gm_notes`` (2 s each, MIDI pitch known).
    Options beyond :class:`RecordedSuite`'s: ``instruments`` / ``families``
    (lists; null keeps all), ``pitch_min`` / ``pitch_max`` (MIDI), and
    ``split_by`` ("file" or "instrument": keep an instrument's notes together).
    """

    instruments: list[str] | None = None
    families: list[str] | None = None
    pitch_min: int = 0
    pitch_max: int = 127
    split_by: str = "file"

    name = "gm_notes"

    def clips(self) -> list[Clip]:
        table = GM_NOTES_DIR / "notes.csv"
        if not table.is_file():
            raise UserError(f"the bundled gm_notes table {table} is missing; reinstall soundmatch")
        with open(table, newline="") as fh:
            rows = list(csv.DictReader(fh))
        known = sorted({r["instrument"] for r in rows})
        for inst in self.instruments or []:
            if inst not in known:
                raise UserError(f"gm_notes has no instrument '{inst}'; available: {', '.join(known)}")
        out = []
        for r in rows:
            pitch = int(r["midi_pitch"])
            if self.instruments and r["instrument"] not in self.instruments:
                continue
            if self.families and r["family"] not in self.families:
                continue
            if not self.pitch_min <= pitch <= self.pitch_max:
                continue
            group = r["file"] if self.split_by == "file" else r["instrument"]
            meta = {"instrument": r["instrument"], "family": r["family"], "gm_program": int(r["gm_program"])}
            name = Path(r["file"]).stem
            out.append(Clip(name, GM_NOTES_DIR / r["file"], r["file"], pitch=pitch, group=group, meta=meta))
        return out

    def targets(self, ctx: SuiteContext) -> list[Target]:
        self.check_options()
        clips = self.select(self.clips())
        if not clips:
            raise UserError(
                "no gm_notes clip matches the filters (instruments, families, pitch range, split)"
            )
        return [self.load(c, ctx) for c in clips]
