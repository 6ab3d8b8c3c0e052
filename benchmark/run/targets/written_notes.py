"""The note a user wrote down for each of their recordings: in a sidecar table, or in the file name.

A sidecar is a CSV (header ``file,note[,velocity]``) or a JSON file (a list of
``{"file": .., "note": .., "velocity": ..}`` or a ``{file: note}`` mapping).
``file`` is the path relative to the folder or the bare file name; ``note`` a
MIDI number or a note name (``C#4`` = 61, middle C = ``C4`` = 60).

In a file name, the last token (split at ``_``, ``-``, space, ``.``) that is a
note name counts (``flute_C#5.wav``, ``marimba A3 ff.wav``); else the stem's
last token when it is a whole number within the piano's keys 21-108
(``piano_60.wav``), so take and sample numbers (``take_01``) are not read as
notes.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

from analysis.pitch import parse_note
from soundmatch.errors import UserError

SIDECAR_NAMES = ("notes.csv", "notes.json")
NUMBER_NOTES = range(21, 109)  # a bare number in a file name is a note only on the piano's keys
_TOKENS = re.compile(r"[_\s.]+|(?<![A-Ga-g#])-|-(?!\d)")  # "A-1" keeps its minus; "piano-60" splits


@dataclass(frozen=True)
class WrittenNote:
    """A MIDI note (whole), the velocity when given, and where it was read (``sidecar``, ``file name``)."""

    pitch: int
    velocity: int | None
    source: str


def note_in_name(stem: str) -> int | None:
    """The note a file's name (without suffix) writes, or None (see the module's rules)."""
    tokens = [t for t in _TOKENS.split(stem) if t]
    for token in reversed(tokens):
        if not token.isdigit():
            note = parse_note(token)
            if note is not None:
                return note
    if tokens and tokens[-1].isdigit() and int(tokens[-1]) in NUMBER_NOTES and len(tokens) > 1:
        return int(tokens[-1])
    return None


def _note_value(value: object, where: str) -> int:
    note = parse_note(str(value))
    if note is None:
        raise UserError(f"{where}: note '{value}' is neither a MIDI number 0-127 nor a note name like C#4")
    return note


def _velocity_value(value: object, where: str) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        velocity = int(float(str(value)))
    except ValueError:
        velocity = -1
    if not 1 <= velocity <= 127:
        raise UserError(f"{where}: velocity '{value}' must be a whole number 1-127")
    return velocity


def read_sidecar(path: Path) -> dict[str, WrittenNote]:
    """``{file: WrittenNote}`` from a CSV or JSON sidecar; a UserError naming the row on bad content."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"cannot read the notes table {path}: {err}") from None
    rows: list[dict[str, object]]
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise UserError(f"notes table {path} is not valid JSON: {err}") from None
        if isinstance(data, dict):
            rows = [{"file": k, "note": v} for k, v in data.items()]
        elif isinstance(data, list) and all(isinstance(r, dict) for r in data):
            rows = data
        else:
            raise UserError(
                f"notes table {path}: expected a list of {{file, note, velocity}} or a {{file: note}} map"
            )
    else:
        reader = csv.DictReader(text.splitlines())
        fields = {f.strip().lower() for f in reader.fieldnames or []}
        if not {"file", "note"} <= fields:
            raise UserError(f"notes table {path}: its header must name the columns file,note[,velocity]")
        rows = [{(k or "").strip().lower(): v for k, v in r.items()} for r in reader]
    notes = {}
    for i, row in enumerate(rows, start=1):
        where = f"notes table {path}, row {i}"
        if not row.get("file"):
            raise UserError(f"{where}: no file named")
        notes[str(row["file"]).strip()] = WrittenNote(
            _note_value(row.get("note"), where), _velocity_value(row.get("velocity"), where), "sidecar"
        )
    return notes


def find_sidecar(root: Path, given: str | None) -> Path | None:
    """The notes table to read: ``given`` (must exist), else ``notes.csv`` / ``notes.json`` in ``root``."""
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise UserError(
                f"target.notes {path} is not a file; name a CSV or JSON table of file,note[,velocity]"
            )
        return path
    return next((root / n for n in SIDECAR_NAMES if (root / n).is_file()), None)


def written_note(rel: str, sidecar: dict[str, WrittenNote], from_names: bool) -> WrittenNote | None:
    """The note written for the file at ``rel`` (relative to the folder): its sidecar row (by relative
    path, then by bare file name), else its file name's note when ``from_names``; else None."""
    name = rel.rsplit("/", 1)[-1]
    for key in (rel, name):
        if key in sidecar:
            return sidecar[key]
    if from_names:
        note = note_in_name(name.rsplit(".", 1)[0])
        if note is not None:
            return WrittenNote(note, None, "file name")
    return None
