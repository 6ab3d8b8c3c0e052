"""The fidelity study: a DX7-family synth against Dexed (dexed-py) on the same voices.

    python -m benchmark fidelity [synth=dx7] [note=60] [velocity=100] [sample_rate=48000] \\
        [hold=1.5] [tail=0.5] [sustain_from=0.25] [out=DIR]

Each voice of :func:`benchmark.fidelity_voices.fidelity_voices` (or of a
``patch=FILE.syx``) is played by the synth, configured for the voice as the
``render`` command does it, and by Dexed, at the same note, velocity and
sample rate, held for ``hold`` s then released for ``tail`` s. Per voice the
study reports the log-spectral distance (:func:`metrics.lsd.log_spectral_distance`,
dB) over the sustained part, from ``sustain_from`` s to note-off; the same
distance over the top 60 dB of each frame (:func:`metrics.lsd.range_limited_lsd`), which
leaves out the engines' noise floors (Dexed's fixed-point engine has one at
about -85 dB per bin in modulated voices, well above LSD's -100 dB floor); the
RMS level difference (dB, synth minus Dexed); and the voice fields the synth's
parameter space cannot carry (a voice mapped to the unit cube and back loses
them). ``out=DIR`` also writes both renders of every voice as WAV and the table
as CSV.
"""

from __future__ import annotations

import csv
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from benchmark.fidelity_voices import fidelity_voices
from benchmark.options import Option, integer, number, parse_options, split_key_values, text, usage
from benchmark.voices import render_voice, synth_for_voice
from metrics.lsd import FRAME_RANGE_DB, log_spectral_distance, range_limited_lsd
from soundmatch.errors import UserError
from synths.base import Note
from synths.dx7.reference import DexedRenderer
from synths.dx7.sysex import FIELDS, read_voices, voice_values
from synths.dx7.voice import Voice

GOAL_MEDIAN_DB = 2.0  # the goal for the median LSD over the sustained part


@dataclass
class FidelitySettings:
    """How both engines play every voice (seconds, Hz, MIDI)."""

    synth: str = "dx7"
    note: int = 60
    velocity: int = 100
    sample_rate: int = 48000  # Dexed mistunes some pitches at 16 kHz (REFERENCE.md, section 7)
    hold: float = 1.5
    tail: float = 0.5
    sustain_from: float = 0.25


@dataclass
class FidelityRow:
    """One voice's figures: LSD (dB) and level difference (dB) over the sustained part."""

    voice: str
    algorithm: int  # 1-32
    lsd_db: float
    lsd_top60_db: float
    level_db: float
    lost: list[str] = field(default_factory=list)


@dataclass
class FidelityPair:
    """Both renders of one voice, mono float32 ``[T]``."""

    synth: np.ndarray
    dexed: np.ndarray


def lost_fields(synth: Any, voice: Voice) -> list[str]:
    """Voice fields that ``unit_to_voice(voice_to_unit(voice))`` does not reproduce."""
    back = synth.unit_to_voice(synth.voice_to_unit(voice))
    return [
        name
        for (name, _), a, b in zip(FIELDS, voice_values(voice), voice_values(back), strict=True)
        if a != b and not name.startswith("name[")
    ]


def rms_db(audio: np.ndarray) -> float:
    """RMS level in dB re full scale (-inf for silence)."""
    level = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return 20.0 * math.log10(level) if level > 0 else -math.inf


def level_difference(pred: np.ndarray, target: np.ndarray) -> float:
    """RMS level of ``pred`` minus that of ``target``, dB (0 when both are silent)."""
    a, b = rms_db(pred), rms_db(target)
    return 0.0 if a == b else a - b


def compare_voice(
    voice: Voice, settings: FidelitySettings, dexed: DexedRenderer | None = None
) -> tuple[FidelityRow, FidelityPair]:
    """Render ``voice`` with the synth and with Dexed; the figures and both renders."""
    s = settings
    if not 0 <= s.sustain_from < s.hold:
        raise UserError(f"fidelity: sustain_from={s.sustain_from} must lie in [0, hold={s.hold})")
    dexed = dexed or DexedRenderer()
    duration = s.hold + s.tail
    synth = synth_for_voice(s.synth, voice, hold=s.hold)
    ours = render_voice(
        synth, voice, note=Note(float(s.note), s.velocity), sample_rate=s.sample_rate, duration=duration
    )
    ref = dexed.render(
        voice, pitch=s.note, velocity=s.velocity, hold=s.hold, duration=duration, sample_rate=s.sample_rate
    )
    a, b = round(s.sustain_from * s.sample_rate), round(s.hold * s.sample_rate)
    row = FidelityRow(
        voice=voice.name.strip(),
        algorithm=voice.algorithm + 1,
        lsd_db=log_spectral_distance(ours[a:b], ref[a:b]),
        lsd_top60_db=range_limited_lsd(ours[a:b], ref[a:b]),
        level_db=level_difference(ours[a:b], ref[a:b]),
        lost=lost_fields(synth, voice),
    )
    return row, FidelityPair(ours, ref)


def run_study(
    settings: FidelitySettings, voices: list[Voice] | None = None, out: Path | None = None
) -> list[FidelityRow]:
    """Figures for every voice (the built-in set by default); with ``out``, WAVs and a CSV there."""
    voices = fidelity_voices() if voices is None else voices
    dexed = DexedRenderer()
    rows = []
    for i, voice in enumerate(voices):
        row, pair = compare_voice(voice, settings, dexed)
        rows.append(row)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            stem = f"{i:02d}-{''.join(c if c.isalnum() else '_' for c in row.voice)}"
            sf.write(str(out / f"{stem}-{settings.synth}.wav"), pair.synth, settings.sample_rate, "FLOAT")
            sf.write(str(out / f"{stem}-dexed.wav"), pair.dexed, settings.sample_rate, "FLOAT")
    if out is not None:
        with (out / "fidelity.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(asdict(rows[0])))
            writer.writeheader()
            for row in rows:
                writer.writerow({**asdict(row), "lost": " ".join(row.lost)})
    return rows


def median_lsd(rows: list[FidelityRow]) -> float:
    return statistics.median(r.lsd_db for r in rows)


def format_table(rows: list[FidelityRow], settings: FidelitySettings) -> str:
    """A Markdown table of the figures, with the median and the goal."""
    s = settings
    lines = [
        f"{s.synth} vs Dexed: note {s.note}, velocity {s.velocity}, {s.sample_rate} Hz, "
        f"hold {s.hold} s; LSD over {s.sustain_from}-{s.hold} s",
        "",
        "| voice | alg | LSD dB | LSD top 60 dB | level dB | fields the synth cannot carry |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lost = ", ".join(r.lost[:6]) + (f" (+{len(r.lost) - 6})" if len(r.lost) > 6 else "")
        figures = f"{r.lsd_db:.2f} | {r.lsd_top60_db:.2f} | {r.level_db:+.2f}"
        lines.append(f"| {r.voice} | {r.algorithm} | {figures} | {lost} |")
    median = median_lsd(rows)
    verdict = "meets" if median <= GOAL_MEDIAN_DB else "misses"
    top = statistics.median(r.lsd_top60_db for r in rows)
    lines += [
        "",
        f"median LSD {median:.2f} dB ({verdict} the goal of <= {GOAL_MEDIAN_DB} dB); "
        f"over the top {FRAME_RANGE_DB:.0f} dB of each frame {top:.2f} dB",
    ]
    return "\n".join(lines)


OPTIONS = (
    Option("synth", text, "dx7", "the DX7-family synth compared with Dexed"),
    Option("patch", text, None, "a .syx file whose voices are compared instead of the built-in set"),
    Option("note", integer(0, 127), 60, "MIDI note"),
    Option("velocity", integer(1, 127), 100, "MIDI velocity"),
    Option("sample_rate", integer(8000, 192000), 48000, "Hz (48 kHz: Dexed is exact there, not at 16 kHz)"),
    Option("hold", number(above=0.0, high=60.0), 1.5, "seconds from note-on to note-off"),
    Option("tail", number(0.0, 60.0), 0.5, "seconds of release rendered after note-off"),
    Option("sustain_from", number(0.0, 60.0), 0.25, "start of the sustained part, seconds"),
    Option("out", text, None, "folder for both renders of every voice (WAV) and fidelity.csv"),
)


def fidelity_cli(args: list[str]) -> int:
    """``python -m benchmark fidelity key=value ...``: print the per-voice figures."""
    if any(a in ("-h", "--help", "help") for a in args):
        print("usage: python -m benchmark fidelity [key=value ...]\n\n" + usage(OPTIONS))
        return 0
    values = parse_options(split_key_values(args, "fidelity"), OPTIONS, "fidelity")
    patch, out = values.pop("patch"), values.pop("out")
    settings = FidelitySettings(**values)
    voices = read_voices(patch) if patch else None
    rows = run_study(settings, voices, Path(out) if out else None)
    print(format_table(rows, settings))
    return 0
