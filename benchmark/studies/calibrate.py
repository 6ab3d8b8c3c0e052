"""Metric ladder: does a metric (or loss) order comparisons whose perceptual order is known?

    python -m benchmark calibrate                       # every pitched gm_notes note, every metric and loss
    python -m benchmark calibrate notes=8 duration=1.0  # a quick look
    python -m benchmark calibrate ladder=DIR            # a ladder made from another soundfont
    python -m benchmark calibrate human=PATH            # against listeners' ratings (studies/human.py)

For every pitched note of ``gm_notes`` a ladder of comparisons is built, from
the closest to the farthest match of the note (the target):

====  ================  ==========================================================
rung  name              the "match"
====  ================  ==========================================================
0     identical         the target itself
1     gain_6db          the target 6 dB quieter
2     detune_10c        the target 10 cents sharp (resampled)
3     velocity          the same note played at velocity 50 (rendered; as much
                        quieter and darker as the instrument plays it)
4     other_instrument  another instrument of another family, same pitch (rendered)
5     semitone          the same instrument a semitone higher (rendered)
6     octave            the same instrument an octave away (rendered)
7     noise_envelope    white noise with the target's RMS envelope
8     noise_floor       white noise 40 dB under the target's loudest 10 ms frame
9     silence           zeros
side  sine_envelope     a sine at the note's f0 with the target's RMS envelope:
                        nearer than noise_envelope
====  ================  ==========================================================

Why this order: each rung keeps less of what a listener matches first --
identity, then level (1), tuning within the just-noticeable range (2), the
instrument's own sound at another dynamic (3; in FluidR3 mostly a 12 dB
softer copy), the pitch with another timbre and envelope (4); then the pitch
goes, by a semitone (5) and by an octave (6, a different note to a musician,
though it shares half its partials); noise keeps only the envelope (7), the
floor nothing but some energy (8), silence nothing (9). The sine with the
target's envelope is a side rung: where it falls among the tonal rungs depends
on how much of the instrument's energy is in its fundamental (a marimba or a
low bass is nearly a sine, a trumpet is not), which is not known without
listening; it is only required to beat noise with the same envelope.
The rendered rungs come from ``python -m benchmark.data.make_gm_notes --ladder``
(bundled in gm_notes/ladder/).

For each metric and loss (smaller = closer) the study reports Kendall's tau-b
between rung and value per note, its mean over notes with a seeded bootstrap
95% interval over notes, and for every adjacent pair of rungs (and the side
rung against its partner) the fraction of notes on which the nearer one scores
strictly lower (a tie counts as wrong).
The table is printed, written to ``<results_dir>/calibrate.{md,csv}`` (the CSV
holds every value), and logged to MLflow (experiment ``calibrate``).
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soxr
import torch

from analysis.pitch import estimate_f0
from benchmark.options import (
    Option,
    boolean,
    integer,
    number,
    parse_command,
    store_options,
    text,
    words,
)
from benchmark.paths import DATA_DIR, writable_folder
from benchmark.run.audio import load_audio
from losses.base import loss_registry
from metrics.base import Evaluation, metric_registry
from soundmatch.errors import UserError
from soundmatch.seeding import derive_seed

CHAIN = (
    "identical",
    "gain_6db",
    "detune_10c",
    "velocity",
    "other_instrument",
    "semitone",
    "octave",
    "noise_envelope",
    "noise_floor",
    "silence",
)
SIDE = (("sine_envelope", "noise_envelope"),)  # (rung, the rung it must beat)
RUNGS = CHAIN + tuple(r for r, _ in SIDE)
PAIRS = tuple(zip(CHAIN[:-1], CHAIN[1:], strict=True)) + SIDE
COMPANIONS = {"velocity": "velocity", "other_instrument": "other", "semitone": "semitone", "octave": "octave"}
ENVELOPE_HOP_SECONDS = 0.01
NOISE_FLOOR_DB = -40.0  # the noise floor rung's level under the target's loudest 10 ms frame
DETUNE_CENTS = 10.0
GAIN_DB = -6.0
# metrics that do not rank single matches of real notes: suite-level (fad) or need true parameters
SKIPPED_METRICS = ("fad", "param_error")
GM_DIR = DATA_DIR / "gm_notes"


OPTIONS = [
    Option("notes", integer(1), 0, "at most this many notes, spread over the instruments (0: all)"),
    Option("metrics", words, ["all"], "metrics to study ('all': every per-target metric)"),
    Option("losses", words, ["all"], "losses to study ('all': every registered loss; 'none')"),
    Option("sample_rate", integer(8000, 48000), 16000, "Hz"),
    Option("duration", number(above=0.0, high=2.0), 1.0, "seconds per clip"),
    Option("seed", integer(0), 0, "seeds the noise rungs and the bootstrap"),
    Option("ladder", text, None, "a folder made by make_gm_notes --ladder (None: the bundled gm_notes one)"),
    Option("human", text, None, "a folder of human rating sets: study agreement with listeners instead"),
    Option("sets", words, [], "human=: only these rating sets ([]: every set found)"),
    Option("fit", boolean, False, "human=: also refit match_distance's timbre weights and choose its pitch "
           "curve (under the ladder, with ladder= a second one), leave-one-set-out"),
    *store_options("where the tables and the MLflow store go")[:2],
]


@dataclass
class LadderNote:
    """One note's ladder: the target and every rung's audio ``[T]`` at the study's rate."""

    name: str
    target: np.ndarray
    rungs: dict[str, np.ndarray]
    f0_hz: float


@dataclass
class Agreement:
    """How one metric orders the ladder: tau per note, its mean and interval, adjacent-pair accuracy."""

    name: str
    kind: str  # "metric" or "loss"
    tau: float
    tau_low: float
    tau_high: float
    pairs: dict[str, float]  # "a<b" -> fraction of notes ordered correctly
    notes: int
    error: str = ""
    values: dict[str, dict[str, float]] = field(default_factory=dict)  # note -> rung -> value

    @property
    def worst_pair(self) -> float:
        return min(self.pairs.values()) if self.pairs else float("nan")


def rms_envelope(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per-sample RMS envelope ``[T]``: RMS of 10 ms frames, linearly interpolated between their centres."""
    hop = max(1, int(round(ENVELOPE_HOP_SECONDS * sample_rate)))
    n = len(audio) // hop
    frames = audio[: n * hop].reshape(n, hop)
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))
    centres = (np.arange(n) + 0.5) * hop
    return np.interp(np.arange(len(audio)), centres, rms)


def detune(audio: np.ndarray, sample_rate: int, cents: float) -> np.ndarray:
    """``audio`` played ``cents`` sharper (resampled, so also slightly shorter)."""
    ratio = 2.0 ** (cents / 1200.0)
    return soxr.resample(audio, sample_rate * ratio, sample_rate, quality="VHQ").astype(np.float32)


def build_rungs(
    target_full: np.ndarray, companions: dict[str, np.ndarray], sample_rate: int, length: int, f0_hz: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Every rung's audio, each cut to ``length`` samples (see the module docstring)."""
    target = target_full[:length]
    env = rms_envelope(target, sample_rate)
    t = np.arange(length) / sample_rate
    white = rng.standard_normal(length)
    loudest = env.max()
    out = {
        "identical": target,
        "gain_6db": target * 10.0 ** (GAIN_DB / 20.0),
        "detune_10c": detune(target_full, sample_rate, DETUNE_CENTS)[:length],
        "sine_envelope": math.sqrt(2.0) * env * np.sin(2.0 * np.pi * f0_hz * t),
        "noise_envelope": env * white,
        "noise_floor": loudest * 10.0 ** (NOISE_FLOOR_DB / 20.0) * rng.standard_normal(length),
        "silence": np.zeros(length),
    }
    for rung, kind in COMPANIONS.items():
        out[rung] = companions[kind][:length]
    return {r: np.pad(out[r], (0, max(0, length - len(out[r])))).astype(np.float32) for r in RUNGS}


def ladder_notes(
    sample_rate: int, duration: float, limit: int, seed: int, folder: Path = GM_DIR
) -> list[LadderNote]:
    """The ladder of every pitched note of ``folder`` (bundled: gm_notes), or ``limit`` of them
    spread over instruments."""
    table = folder / "ladder" / "ladder.csv"
    if not table.is_file() or not (folder / "notes.csv").is_file():
        raise UserError(
            f"the ladder's notes or companions ({folder}/notes.csv, {table}) are missing; render them with "
            "`python -m benchmark.data.make_gm_notes --ladder [--soundfont SF2 --out DIR]` (needs fluidsynth)"
        )
    with open(folder / "notes.csv", newline="") as fh:
        notes = list(csv.DictReader(fh))
    with open(table, newline="") as fh:
        companions: dict[str, dict[str, str]] = {}
        for row in csv.DictReader(fh):
            companions.setdefault(row["note"], {})[row["kind"]] = row["file"]
    notes = [n for n in notes if n["file"] in companions]
    if limit and limit < len(notes):
        # every k-th note in table order (instruments are grouped): spread over instruments
        notes = [notes[int(i)] for i in np.linspace(0, len(notes) - 1, limit).round()]
    length = int(round(sample_rate * duration))
    out = []
    for n in notes:
        full = load_audio(folder / n["file"], sample_rate)
        comp = {k: load_audio(folder / f, sample_rate) for k, f in companions[n["file"]].items()}
        f0 = estimate_f0(full[:length], sample_rate, hint_midi=float(n["midi_pitch"])).hz
        assert f0 is not None  # a hint always gives a pitch
        rng = np.random.default_rng(derive_seed(seed, "ladder", n["file"]))
        rungs = build_rungs(full, comp, sample_rate, length, f0, rng)
        out.append(LadderNote(Path(n["file"]).stem, rungs["identical"], rungs, f0))
    return out


def metric_scorer(name: str) -> Callable[[LadderNote, np.ndarray, int], float]:
    fn = metric_registry.get(name)

    def score(note: LadderNote, pred: np.ndarray, sample_rate: int) -> float:
        value = fn(Evaluation(pred=pred, target=note.target, sample_rate=sample_rate, note_hz=note.f0_hz))
        return float("nan") if value is None else float(value)

    return score


def loss_scorer(name: str, sample_rate: int) -> Callable[[LadderNote, np.ndarray, int], float]:
    loss = loss_registry.create(name, sample_rate=sample_rate)

    def score(note: LadderNote, pred: np.ndarray, sample_rate: int) -> float:
        with torch.no_grad():
            p = torch.as_tensor(pred, dtype=torch.float32)[None]
            t = torch.as_tensor(note.target, dtype=torch.float32)[None]
            return float(loss(p, t)[0])

    return score


def agreement(
    name: str, kind: str, scorer: Callable, notes: list[LadderNote], sample_rate: int, seed: int
) -> Agreement:
    """Score every rung of every note with ``scorer`` and summarise the ordering."""
    from scipy.stats import kendalltau

    values: dict[str, dict[str, float]] = {}
    taus = []
    try:
        for note in notes:
            row = {r: scorer(note, note.rungs[r], sample_rate) for r in RUNGS}
            values[note.name] = row
            ranks = [i for i, r in enumerate(CHAIN) if math.isfinite(row[r])]
            vals = [row[CHAIN[i]] for i in ranks]
            tau = kendalltau(ranks, vals).statistic if len(ranks) >= 3 else float("nan")
            taus.append(float(tau))
    except Exception as err:  # a loss that cannot score real audio is a row, not a crash
        return Agreement(name, kind, *(float("nan"),) * 3, {}, len(values), f"{type(err).__name__}: {err}")
    tau_arr = np.asarray(taus)
    finite = tau_arr[np.isfinite(tau_arr)]
    mean = float(finite.mean()) if len(finite) else float("nan")
    low = high = float("nan")
    if len(finite) > 1:
        rng = np.random.default_rng(derive_seed(seed, "bootstrap", name))
        boots = finite[rng.integers(0, len(finite), (2000, len(finite)))].mean(axis=1)
        low, high = (float(q) for q in np.quantile(boots, [0.025, 0.975]))
    pairs = {}
    for a, b in PAIRS:
        ok = [values[n][a] < values[n][b] for n in values]
        pairs[f"{a}<{b}"] = float(np.mean(ok))
    return Agreement(name, kind, mean, low, high, pairs, len(values), values=values)


def run_study(values: dict[str, Any], progress: Callable[[Agreement], None] | None = None) -> list[Agreement]:
    sample_rate, seed = values["sample_rate"], values["seed"]
    metric_names = values["metrics"]
    if metric_names == ["all"]:
        metric_names = [m for m in metric_registry.names() if m not in SKIPPED_METRICS
                        and not getattr(metric_registry.get(m), "suite_level", False)]
    loss_names = values["losses"]
    if loss_names == ["all"]:
        loss_names = loss_registry.names()
    elif loss_names == ["none"]:
        loss_names = []
    for m in metric_names:
        metric_registry.get(m)
    for m in loss_names:
        loss_registry.get(m)
    folder = Path(values["ladder"]) if values["ladder"] else GM_DIR
    notes = ladder_notes(sample_rate, values["duration"], values["notes"], seed, folder)
    rows = []
    jobs = [(m, "metric") for m in metric_names] + [(m, "loss") for m in loss_names]
    for name, kind in jobs:
        start = time.perf_counter()
        try:
            scorer = metric_scorer(name) if kind == "metric" else loss_scorer(name, sample_rate)
        except Exception as err:
            row = Agreement(name, kind, *(float("nan"),) * 3, {}, 0, f"{type(err).__name__}: {err}")
        else:
            row = agreement(name, kind, scorer, notes, sample_rate, seed)
        row.values.setdefault("_seconds", {})["all"] = time.perf_counter() - start
        rows.append(row)
        if progress is not None:
            progress(row)
    # best first: the worst adjacent pair decides, then tau; rows that failed last
    rows.sort(key=lambda r: (-np.nan_to_num(r.worst_pair, nan=-1.0), -np.nan_to_num(r.tau, nan=-2.0)))
    return rows


def _short(pair: str) -> str:
    a, b = pair.split("<")
    return f"{a[:8]}<{b[:8]}"


def markdown(rows: list[Agreement], values: dict[str, Any]) -> str:
    """The ladder table: tau [95% CI], the worst adjacent pair, and each pair's fraction."""
    pairs = [f"{a}<{b}" for a, b in PAIRS]
    head = ["name", "kind", "tau [95% CI]", "worst pair", *(_short(p) for p in pairs)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if r.error:
            lines.append(f"| {r.name} | {r.kind} | error: {r.error[:80]} |" + " |" * (len(head) - 3))
            continue
        cells = [r.name, r.kind, f"{r.tau:.3f} [{r.tau_low:.3f}, {r.tau_high:.3f}]", f"{r.worst_pair:.2f}"]
        cells += [f"{r.pairs[p]:.2f}" for p in pairs]
        lines.append("| " + " | ".join(cells) + " |")
    n = max((r.notes for r in rows), default=0)
    foot = (
        f"\n{n} gm_notes notes, {values['duration']:g} s at {values['sample_rate']} Hz, "
        f"seed {values['seed']}. "
        "tau: Kendall's tau-b of rung (0-9) vs value per note, mean over notes, "
        "bootstrap 95% interval over notes. "
        "Pair columns: fraction of notes on which the nearer rung scores strictly lower "
        "(the last: the side rung sine_envelope against noise_envelope)."
    )
    return "\n".join(lines) + "\n" + foot + "\n"


def write_csv(rows: list[Agreement], path: Path) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "kind", "note", *RUNGS])
        for r in rows:
            for note, vals in r.values.items():
                if note.startswith("_"):
                    continue
                writer.writerow([r.name, r.kind, note, *(f"{vals[k]:.6g}" for k in RUNGS)])


def _log(rows: list[Agreement], values: dict[str, Any], files: list[Path]) -> str:
    from benchmark.run.tracking import log_study

    metrics: dict[str, float | None] = {}
    for r in rows:
        if r.error:
            continue
        key = f"{r.kind}.{r.name}"
        metrics.update({f"{key}.tau": r.tau, f"{key}.tau_low": r.tau_low, f"{key}.tau_high": r.tau_high})
        metrics[f"{key}.worst_pair"] = r.worst_pair
        for pair, frac in r.pairs.items():
            metrics[f"{key}.{pair.replace('<', '_lt_')}"] = frac
    return log_study("calibrate", values, metrics, files)


def calibrate_cli(args: list[str]) -> int:
    values = parse_command(args, OPTIONS, "calibrate", __doc__.strip().split("\n\n")[0])
    if values is None:
        return 0
    writable_folder(values["results_dir"], "results_dir")  # before the study, not after it
    if values["human"]:
        return human_study(values)

    def progress(row: Agreement) -> None:
        shown = row.error[:90] if row.error else f"tau {row.tau:.3f}  worst pair {row.worst_pair:.2f}"
        print(f"  {row.kind:<6} {row.name:<26} {shown}  ({row.values['_seconds']['all']:.1f} s)", flush=True)

    rows = run_study(values, progress)
    table = markdown(rows, values)
    print("\n" + table)
    out = writable_folder(values["results_dir"], "results_dir")
    md, csv_path = out / "calibrate.md", out / "calibrate.csv"
    md.write_text(table)
    write_csv(rows, csv_path)
    run_id = _log(rows, values, [md, csv_path])
    print(f"tables: {md}, {csv_path}  (MLflow run {run_id}, experiment 'calibrate')")
    return 0


def human_study(values: dict[str, Any]) -> int:
    """``calibrate human=PATH``: print, write and log the listening-data study."""
    from benchmark.run.tracking import log_study
    from benchmark.studies.human import FIGURES, DistanceRow, markdown, read_rating_sets, study_rows
    from benchmark.studies.human import write_csv as write_human_csv

    sets = read_rating_sets(Path(values["human"]), values["sample_rate"], values["sets"] or None)
    pairs = sum(len(s.files) * (len(s.files) - 1) // 2 for s in sets)
    print(f"{len(sets)} rating sets, {pairs} rated pairs: {', '.join(s.name for s in sets)}", flush=True)

    def progress(row: DistanceRow) -> None:
        shown = row.error[:90] if row.error else (
            f"Spearman {row.mean['spearman']:.3f}  per-anchor {row.mean['anchor']:.3f}")
        print(f"  {row.kind:<8} {row.name:<26} {shown}  ({row.seconds:.1f} s)", flush=True)

    rows = study_rows(values, sets, progress)
    table = markdown(rows, sets, values)
    fit_table = ""
    if values["fit"]:
        from benchmark.studies import pitch_fit, timbre_fit

        folders = [GM_DIR] + ([Path(values["ladder"])] if values["ladder"] else [])
        sr, notes = values["sample_rate"], values["notes"]
        ladders = [pitch_fit.Ladder.of(ladder_notes(sr, values["duration"], notes, values["seed"], f), sr,
                                       CHAIN, SIDE) for f in folders]  # fmt: skip
        fit_table = timbre_fit.fit_report(sets, values) + pitch_fit.fit_report(sets, values, ladders)
    print("\n" + table + fit_table)
    out = writable_folder(values["results_dir"], "results_dir")
    md, csv_path = out / "human.md", out / "human.csv"
    md.write_text(table + fit_table)
    write_human_csv(rows, csv_path)
    metrics: dict[str, float | None] = {}
    for r in rows:
        if not r.error:
            metrics.update({f"{r.kind}.{r.name}.{fig}": r.mean[fig] for fig in FIGURES})
    run_id = log_study("calibrate_human", values, metrics, [md, csv_path])
    print(f"tables: {md}, {csv_path}  (MLflow run {run_id}, experiment 'calibrate_human')")
    return 0
