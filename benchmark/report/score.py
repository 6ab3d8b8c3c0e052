"""Score matches against targets with every metric, outside any run.

    python -m benchmark score TARGET.wav MATCH.wav               # one pair
    python -m benchmark score targets/ matches/ format=json      # folders, paired by file name (stem)
    python -m benchmark score a.wav b.wav metrics=match_distance,lsd note=69
    python -m benchmark score sounds/ pairs=all format=csv out=matrices/   # every ordered pair

How a sound designer checks a patch against a recording, and how anyone checks
the metrics from outside. Both files are read as mono (channels averaged),
resampled to ``sample_rate`` and cut to the shorter of the two (or
``duration`` s); the first path is the target. Metrics that need true synth
parameters (``param_error``) or a whole suite (``fad``) are left out.

``pairs=all`` scores every ordered pair of one folder's audio files and gives an
``N x N`` matrix per metric: rows are the target, columns the match, both in
sorted file-name order, diagonal 0 (:func:`metrics.pairwise.pair_matrix`).
With ``out=DIR`` each matrix is also written to ``DIR/<metric>.csv``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.options import (
    Option,
    choice,
    integer,
    number,
    parse_options,
    split_key_values,
    text,
    usage,
    words,
)
from benchmark.paths import writable_folder
from benchmark.run.audio import AUDIO_SUFFIXES, audio_files, load_audio
from metrics.base import Evaluation, metric_registry
from metrics.pairwise import pair_matrix
from soundmatch.errors import UserError

SKIPPED = ("param_error", "fad")
UNITS = {
    "match_distance": "dB",
    "lsd": "dB",
    "lsd_abs": "dB",
    "loudness_envelope_error": "dB",
    "pitch_error_cents": "cents",
    "spectral_centroid_error": "Hz",
    "harmonic_amplitude_error": "dB",
    "noise_ratio_error": "dB",
    "attack_time_error": "s",
    "decay_time_error": "s",
}


OPTIONS = [
    Option("metrics", words, ["all"], "metrics to compute ('all': every per-match metric)"),
    Option("sample_rate", integer(8000, 192000), 16000, "Hz both files are resampled to"),
    Option("duration", number(above=0.0, high=600.0), 0.0, "seconds compared (0: the shorter file)"),
    Option("note", number(0.0, 127.0), -1.0, "the target's MIDI pitch, when known (-1: unknown)"),
    Option("format", choice("table", "json", "csv"), "table", "table, json or csv"),
    Option("pairs", choice("named", "all"), "named",
           "named: target and match paired by name; all: every ordered pair of one folder's files"),
    Option("out", text, None, "pairs=all: also write one CSV matrix per metric to this folder"),
]


def metric_names(requested: list[str]) -> list[str]:
    if requested == ["all"]:
        return [
            m for m in metric_registry.names()
            if m not in SKIPPED and not getattr(metric_registry.get(m), "suite_level", False)
        ]
    for m in requested:
        metric_registry.get(m)  # an unknown name is one line with the choices
        if m in SKIPPED or getattr(metric_registry.get(m), "suite_level", False):
            raise UserError(f"score: metric '{m}' needs a run (true parameters or a whole suite); use `run`")
    return requested


def pairs(first: Path, second: Path) -> list[tuple[str, Path, Path]]:
    """(name, target, match) pairs: the two files, or the files of two folders with the same stem."""
    if first.is_dir() != second.is_dir():
        raise UserError(f"score: give two files or two folders, not {first} and {second}")
    if not first.is_dir():
        return [(second.stem, first, second)]

    targets = {p.stem: p for p in audio_files(first)}
    matches = {p.stem: p for p in audio_files(second)}
    common = sorted(set(targets) & set(matches))
    if not common:
        raise UserError(
            f"score: no file of {second} has the name of a file of {first}; matches are paired "
            "with targets by file name without extension (flute.wav <-> flute.flac)"
        )
    missing = sorted(set(targets) - set(matches))
    if missing:
        print(f"note: no match for {len(missing)} target(s): {', '.join(missing[:5])}", file=sys.stderr)
    return [(name, targets[name], matches[name]) for name in common]


# the shortest overlap every metric can analyse: its longest frame (2048 samples: 0.128 s at 16 kHz)
MIN_SCORE_SECONDS, MIN_SCORE_SAMPLES = 0.15, 2048


def check_overlap(samples: int, sample_rate: int, what: str) -> None:
    """One line when ``what`` overlap for fewer samples than the metrics can analyse."""
    need = max(round(MIN_SCORE_SECONDS * sample_rate), MIN_SCORE_SAMPLES)
    if samples < need:
        raise UserError(f"score: {what} overlap for {samples / sample_rate:.3f} s; scoring needs at "
                        f"least {need / sample_rate:.3f} s (pad the shorter with silence or remove it; "
                        "duration= cuts both)")  # fmt: skip


def score_pair(
    target: Path, match: Path, names: list[str], sample_rate: int, duration: float, note: float
) -> dict[str, float | None]:
    t = load_audio(target, sample_rate)
    m = load_audio(match, sample_rate)
    n = min(len(t), len(m))
    if duration:
        n = min(n, int(round(duration * sample_rate)))
    check_overlap(n, sample_rate, f"{target} and {match}")
    note_hz = 440.0 * 2.0 ** ((note - 69.0) / 12.0) if note >= 0 else None
    ev = Evaluation(pred=m[:n], target=t[:n], sample_rate=sample_rate, note_hz=note_hz)
    out: dict[str, float | None] = {}
    for name in names:
        value = metric_registry.get(name)(ev)
        out[name] = None if value is None else float(value)
    return out


def _cell(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"


def render_table(rows: list[tuple[str, dict[str, float | None]]], names: list[str]) -> str:
    head = ["match", *(f"{n} ({UNITS[n]})" if n in UNITS else n for n in names)]
    body = [[name, *(_cell(v[n]) for n in names)] for name, v in rows]
    if len(rows) > 1:
        means = []
        for n in names:
            vals = [v[n] for _, v in rows if v[n] is not None and math.isfinite(v[n])]
            means.append(_cell(float(np.mean(vals))) if vals else "-")
        body.append(["mean", *means])
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def folder_sounds(folder: Path, sample_rate: int) -> tuple[list[str], list[np.ndarray]]:
    """The audio files of ``folder`` in sorted file-name order, read as mono at ``sample_rate``."""
    if not folder.is_dir():
        raise UserError(f"score: pairs=all takes one folder of audio files; {folder} is not a folder")
    files = audio_files(folder)
    if len(files) < 2:
        raise UserError(
            f"score: {folder} holds {len(files)} audio file(s); pairs=all needs at least two "
            f"({', '.join(AUDIO_SUFFIXES)})"
        )
    return [p.name for p in files], [load_audio(p, sample_rate) for p in files]


def all_pairs(
    folder: Path, names: list[str], values: dict[str, Any]
) -> tuple[list[str], dict[str, np.ndarray]]:
    """File names and ``{metric: [N, N]}`` (rows target, columns match) for every ordered pair."""
    files, sounds = folder_sounds(folder, values["sample_rate"])
    if values["duration"]:
        keep = int(round(values["duration"] * values["sample_rate"]))
        sounds = [s[:keep] for s in sounds]
    shortest = min(range(len(sounds)), key=lambda i: len(sounds[i]))
    check_overlap(len(sounds[shortest]), values["sample_rate"], f"{files[shortest]} and the others")
    note = values["note"]
    note_hz = 440.0 * 2.0 ** ((note - 69.0) / 12.0) if note >= 0 else None
    rate = values["sample_rate"]
    matrices = {}
    for name in names:
        fn = metric_registry.get(name)

        def score(pred: np.ndarray, target: np.ndarray, fn: Any = fn) -> float | None:
            return fn(Evaluation(pred=pred, target=target, sample_rate=rate, note_hz=note_hz))

        matrices[name] = pair_matrix(sounds, score)
    return files, matrices


def _matrix_csv(files: list[str], matrix: np.ndarray) -> str:
    lines = [",".join(["target \\ match", *files])]
    for name, row in zip(files, matrix, strict=True):
        lines.append(",".join([name, *("" if not np.isfinite(v) else f"{v:.6g}" for v in row)]))
    return "\n".join(lines)


def _matrix_table(files: list[str], matrix: np.ndarray) -> str:
    width = max(7, *(len(_cell(v)) for v in matrix.ravel()))
    head = " " * 4 + "".join(f"{j:>{width + 1}d}" for j in range(len(files)))
    rows = [f"{i:>3d} " + "".join(f"{_cell(v):>{width + 1}}" for v in row) for i, row in enumerate(matrix)]
    return "\n".join([head, *rows])


def print_matrices(files: list[str], matrices: dict[str, np.ndarray], fmt: str) -> None:
    """Every metric's matrix to stdout as JSON, CSV (one block per metric) or aligned text."""
    if fmt == "json":
        def clean(m: np.ndarray) -> list[list[float | None]]:
            return [[None if not np.isfinite(v) else float(v) for v in row] for row in m]

        print(json.dumps({
            "files": files, "rows": "target", "columns": "match",
            "units": {n: UNITS.get(n, "") for n in matrices},
            "matrices": {n: clean(m) for n, m in matrices.items()},
        }, indent=2))
        return
    blocks = []
    for name, matrix in matrices.items():
        unit = f" ({UNITS[name]})" if name in UNITS else ""
        if fmt == "csv":
            block = _matrix_csv(files, matrix)
            blocks.append(block if len(matrices) == 1 else f"# {name}{unit}\n{block}")
        else:
            blocks.append(f"{name}{unit}: rows = target, columns = match\n{_matrix_table(files, matrix)}")
    if fmt == "table":
        blocks.append("\n".join(f"{i:>3d}  {f}" for i, f in enumerate(files)))
    print("\n\n".join(blocks))


def score_cli(args: list[str]) -> int:
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip() + "\n\noptions:\n" + usage(OPTIONS))
        return 0
    paths = [a for a in args if "=" not in a]
    values: dict[str, Any] = parse_options(
        split_key_values([a for a in args if "=" in a], "score"), OPTIONS, "score"
    )
    names = metric_names(values["metrics"])
    if values["pairs"] == "all":
        if len(paths) != 1:
            raise UserError("score: pairs=all takes one folder, e.g. score sounds/ pairs=all format=csv")
        files, matrices = all_pairs(Path(paths[0]), names, values)
        print_matrices(files, matrices, values["format"])
        if values["out"]:
            out = writable_folder(values["out"], "score: out")
            for name, matrix in matrices.items():
                (out / f"{name}.csv").write_text(_matrix_csv(files, matrix) + "\n")
            print(f"matrices: {out}/<metric>.csv ({len(matrices)} files)", file=sys.stderr)
        return 0
    if values["out"]:
        raise UserError("score: out= writes the matrices of pairs=all; with two paths, redirect the output")
    if len(paths) != 2:
        raise UserError("score: give a target and a match (two files or two folders), e.g. score a.wav b.wav")
    rows = [
        (name, score_pair(t, m, names, values["sample_rate"], values["duration"], values["note"]))
        for name, t, m in pairs(Path(paths[0]), Path(paths[1]))
    ]
    if values["format"] == "json":
        print(json.dumps({"units": {n: UNITS.get(n, "") for n in names},
                          "scores": [{"match": name, **v} for name, v in rows]}, indent=2))
    elif values["format"] == "csv":
        print(",".join(["match", *names]))
        for name, v in rows:
            print(",".join([name, *("" if v[n] is None else f"{v[n]:.6g}" for n in names)]))
    else:
        print(render_table(rows, names))
    return 0
