"""``folder``: every WAV/FLAC/OGG (AIFF, MP3) file under a folder, recursively."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.run.audio import AUDIO_SUFFIXES
from benchmark.run.targets.base import SuiteContext, suite_registry
from benchmark.run.targets.recorded import Clip, RecordedSuite
from benchmark.run.targets.written_notes import find_sidecar, read_sidecar, written_note
from solvers.base import Target
from soundmatch.errors import UserError

TAG_LIMIT = 4000  # characters of the skipped-file list kept in the run's tag


@suite_registry.register("folder")
@dataclass
class FolderSuite(RecordedSuite):
    """Any folder of audio files (searched recursively; sorted by path), one target per file
    (``path`` may also name one audio file).

    Each file gives the task's duration from ``offset`` seconds in. A bad file
    (corrupt, empty, silent, NaN-filled, undecodable ...) is skipped with a
    warning and counted; the parent run gets the tags ``soundmatch.skipped_files``
    (the count) and ``soundmatch.skipped`` (file: reason; ...). The split is by file.

    The note each file was played at, first found wins (logged as the target's
    ``pitch_source``): its row in a notes table (``notes``: a CSV or JSON of
    file,note[,velocity]; by default ``notes.csv`` / ``notes.json`` in the
    folder), its file name (``note_names``: ``flute_C#5.wav``, ``piano_60.wav``;
    see :mod:`benchmark.run.targets.written_notes`), else the f0 estimated from
    the sound (``pitch: auto``). A synth that plays whole notes (the DX7 family)
    gets the nearest note and the exact f0 is logged beside it.
    """

    path: str | None = None
    notes: str | None = None
    note_names: bool = True
    offset: float = 0.0
    trim_db: float | None = -40.0  # a user's files often start with silence: skip it
    skipped: list[tuple[str, str]] = field(default_factory=list, init=False, repr=False)
    unlisted: list[tuple[str, str]] = field(default_factory=list, init=False, repr=False)

    name = "folder"

    def files(self) -> tuple[Path, list[Path]]:
        if not self.path:
            raise UserError("target.path is required for the folder suite: a folder of WAV/FLAC/OGG files")
        root = Path(self.path).expanduser()
        if root.is_file() and root.suffix.lower() in AUDIO_SUFFIXES:  # one recording
            self.unlisted = []
            return root.parent, [root]
        if not root.is_dir():
            raise UserError(f"target.path {root} is not a folder; name a folder of WAV/FLAC/OGG files")
        # os.walk, not rglob: a sub-folder that cannot be listed is reported, not skipped in silence
        unlisted: list[OSError] = []
        files = []
        for folder, subfolders, names in os.walk(root, onerror=unlisted.append):
            files += [Path(folder) / n for n in names if Path(n).suffix.lower() in AUDIO_SUFFIXES]
            # a results folder inside the recordings' one (results_dir's default, run from there) holds
            # every run's target.wav and match.wav: those are not the user's recordings
            for store in [d for d in subfolders if (Path(folder) / d / "mlflow.db").exists()]:
                subfolders.remove(store)
                print(f"warning: skipped {Path(folder) / store}: a results folder (it holds mlflow.db)",
                      file=sys.stderr)  # fmt: skip
        files.sort()
        self.unlisted = [(str(err.filename), f"cannot list the folder ({err.strerror})") for err in unlisted]
        for folder, reason in self.unlisted:
            print(f"warning: skipped {folder}: {reason}", file=sys.stderr)
        if not files:
            raise UserError(f"no audio files ({', '.join(AUDIO_SUFFIXES)}) under {root}")
        return root, files

    def targets(self, ctx: SuiteContext) -> list[Target]:
        self.check_options()
        root, files = self.files()
        sidecar_path = find_sidecar(root, self.notes)
        sidecar = {} if sidecar_path is None else read_sidecar(sidecar_path)
        clips = []
        for path in files:
            rel = path.relative_to(root).as_posix()
            name = rel.rsplit(".", 1)[0].replace("/", "__")
            clip = Clip(name, path, rel, offset=self.offset, group=rel)
            written = written_note(rel, sidecar, self.note_names)
            if written is not None:
                clip.pitch = written.pitch
                clip.meta["note_from"] = written.source
                if written.velocity is not None:
                    clip.meta["velocity"] = written.velocity
            clips.append(clip)
        listed = {c.source for c in clips} | {c.source.rsplit("/", 1)[-1] for c in clips}
        unknown = sorted(k for k in sidecar if k not in listed)
        if unknown:
            print(f"warning: the notes table {sidecar_path} names {len(unknown)} file(s) not in {root}: "
                  f"{', '.join(unknown[:5])}", file=sys.stderr)
        self.skipped = list(self.unlisted)
        out = []
        for clip in self.select(clips):
            try:
                out.append(self.load(clip, ctx))
            except UserError as err:
                self.skipped.append((clip.source, str(err)))
                print(f"warning: skipped {err}", file=sys.stderr)
        if not out:
            raise UserError(f"none of the {len(clips)} audio files under {root} could be used (see warnings)")
        if self.skipped:
            print(f"warning: {len(self.skipped)} of {len(clips)} files skipped", file=sys.stderr)
        return out

    def run_tags(self) -> dict[str, str]:
        listing = "; ".join(f"{src}: {reason}" for src, reason in self.skipped)
        return {"soundmatch.skipped_files": str(len(self.skipped)), "soundmatch.skipped": listing[:TAG_LIMIT]}
