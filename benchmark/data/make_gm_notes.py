"""Regenerate the bundled ``gm_notes`` clips from the FluidR3 General MIDI soundfont.

    apt-get update && apt-get install -y --no-install-recommends fluidsynth fluid-soundfont-gm
    python -m benchmark.data.make_gm_notes            # writes benchmark/data/gm_notes/
    python -m benchmark.data.make_gm_notes --ladder   # and the metric ladder's companions, gm_notes/ladder/
    python -m benchmark.data.make_gm_notes --ladder --soundfont OTHER.sf2 --out DIR   # the same from another
                                                      # soundfont (calibrate ladder=DIR), e.g. Debian's
                                                      # csound-soundfont (/usr/share/sounds/sf2/sf_GMbank.sf2)

Each clip is one note (velocity 100) of a recorded instrument of FluidR3_GM.sf2
(MIT licence; notice in gm_notes/LICENSE-FluidR3_GM.txt), held for 1.6 s and
rendered by fluidsynth at 16 kHz with reverb and chorus off; the stereo output
is averaged to mono, cut at 2.0 s with a 50 ms raised-cosine fade-out, scaled
to a peak of -1 dBFS and written as 16-bit FLAC. ``notes.csv`` lists every
clip with its instrument, General MIDI program and MIDI pitch. The output is
deterministic for one fluidsynth version and soundfont.

``--ladder`` also renders, for every note, the companions that the metric
ladder (``python -m benchmark calibrate``) needs and signal processing cannot
make: the same note at velocity 50 (scaled by the velocity-100 note's own
normalising gain, so it is as much quieter as the instrument plays it), the
same instrument a semitone above, an octave away (above when the octave stays
within MIDI 96, else below), and another instrument of another family at the
same pitch (the next one in the table whose listed range, widened by an octave,
holds the pitch and whose note *sounds* within 50 cents of the target's: a
soundfont may play a vibraphone or a bass an octave from its written note).
``ladder/ladder.csv`` lists them.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
LICENSE = Path("/usr/share/doc/fluid-soundfont-gm/copyright")
OUT_DIR = Path(__file__).resolve().parent / "gm_notes"
SAMPLE_RATE = 16000
CLIP_SECONDS = 2.0
HOLD_SECONDS = 1.6
FADE_SECONDS = 0.05
PEAK_DBFS = -1.0
VELOCITY = 100
TICKS_PER_QUARTER = 480  # at the default 120 bpm one tick is 500000/480 microseconds

# name: (General MIDI program, 0-based; family; MIDI pitches within the instrument's range)
INSTRUMENTS: dict[str, tuple[int, str, tuple[int, ...]]] = {
    "acoustic_grand_piano": (0, "keyboard", (48, 60, 72)),
    "electric_piano": (4, "keyboard", (48, 60, 72)),
    "vibraphone": (11, "mallet", (60, 67, 74)),
    "marimba": (12, "mallet", (48, 60, 72)),
    "church_organ": (19, "organ", (48, 60, 72)),
    "nylon_guitar": (24, "guitar", (45, 57, 69)),
    "acoustic_bass": (32, "bass", (31, 38, 45)),
    "violin": (40, "string", (57, 69, 81)),
    "viola": (41, "string", (50, 62, 74)),
    "cello": (42, "string", (40, 48, 60)),
    "contrabass": (43, "string", (31, 40)),
    "harp": (46, "string", (48, 60, 72)),
    "trumpet": (56, "brass", (58, 65, 72)),
    "trombone": (57, "brass", (41, 50, 58)),
    "tuba": (58, "brass", (31, 38)),
    "french_horn": (60, "brass", (45, 53, 62)),
    "alto_sax": (65, "reed", (52, 61, 70)),
    "oboe": (68, "reed", (60, 67, 76)),
    "bassoon": (70, "reed", (36, 45, 53)),
    "clarinet": (71, "reed", (52, 62, 72)),
    "flute": (73, "flute", (62, 72, 81)),
}


def _vlq(value: int) -> bytes:
    """MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def note_midi(program: int, pitch: int, velocity: int, hold_seconds: float, end_seconds: float) -> bytes:
    """A type-0 standard MIDI file: program change, one note held ``hold_seconds``, end at ``end_seconds``."""
    ticks_per_second = TICKS_PER_QUARTER * 2  # 120 bpm
    hold = int(round(hold_seconds * ticks_per_second))
    tail = int(round((end_seconds - hold_seconds) * ticks_per_second))
    events = (
        _vlq(0) + bytes([0xC0, program])
        + _vlq(0) + bytes([0x90, pitch, velocity])
        + _vlq(hold) + bytes([0x80, pitch, 0])
        + _vlq(tail) + bytes([0xFF, 0x2F, 0x00])
    )  # fmt: skip
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_QUARTER)
    return header + b"MTrk" + struct.pack(">I", len(events)) + events


LADDER_VELOCITY = 50
LADDER_KINDS = ("velocity", "semitone", "octave", "other")


def render_raw(
    program: int, pitch: int, folder: Path, velocity: int = VELOCITY, soundfont: Path = SOUNDFONT
) -> np.ndarray:
    """Mono float32 ``[2.0 s * 16 kHz]`` of one note as fluidsynth plays it from ``soundfont``, faded
    out (not normalised)."""
    mid, wav = folder / "note.mid", folder / "note.wav"
    mid.write_bytes(note_midi(program, pitch, velocity, HOLD_SECONDS, CLIP_SECONDS))
    cmd = ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "1.0", "-r", str(SAMPLE_RATE)]
    cmd += ["-O", "s16", "-T", "wav", "-F", str(wav), str(soundfont), str(mid)]
    subprocess.run(cmd, check=True, capture_output=True)
    data, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    assert rate == SAMPLE_RATE, rate
    n = int(CLIP_SECONDS * SAMPLE_RATE)
    audio = np.pad(data.mean(axis=1), (0, max(0, n - data.shape[0])))[:n]
    fade = int(FADE_SECONDS * SAMPLE_RATE)
    audio[-fade:] *= 0.5 * (1.0 + np.cos(np.linspace(0.0, np.pi, fade)))
    return audio.astype(np.float32)


def peak_gain(audio: np.ndarray) -> float:
    """The gain that brings ``audio``'s peak to ``PEAK_DBFS``."""
    return float(10.0 ** (PEAK_DBFS / 20.0) / np.abs(audio).max())


def render_clip(program: int, pitch: int, folder: Path, soundfont: Path = SOUNDFONT) -> np.ndarray:
    """Mono float32 ``[2.0 s * 16 kHz]`` of one note, faded out and peak-normalised."""
    audio = render_raw(program, pitch, folder, soundfont=soundfont)
    return (audio * peak_gain(audio)).astype(np.float32)


def other_instruments(name: str, pitch: int) -> list[str]:
    """The instruments after ``name`` (cyclically) of another family whose listed pitches, widened
    by an octave each way, hold ``pitch``, nearest first."""
    names = list(INSTRUMENTS)
    start = names.index(name)
    out = []
    for step in range(1, len(names)):
        other = names[(start + step) % len(names)]
        _, family, pitches = INSTRUMENTS[other]
        if family != INSTRUMENTS[name][1] and min(pitches) - 12 <= pitch <= max(pitches) + 12:
            out.append(other)
    if not out:
        raise ValueError(f"no instrument of another family plays MIDI {pitch}")
    return out


def sounding_hz(audio: np.ndarray) -> float | None:
    """The f0 a note sounds at, read without its written pitch (a soundfont may play an instrument
    an octave from the written note, as General MIDI guitars and basses do)."""
    from analysis.pitch import estimate_f0

    return estimate_f0(audio[: int(SAMPLE_RATE * HOLD_SECONDS)], SAMPLE_RATE).hz


def other_at_same_pitch(name: str, pitch: int, folder: Path, soundfont: Path, target_hz: float | None):
    """(clip, instrument) of the first other instrument whose note sounds within 50 cents of the
    target's (the ``other_instrument`` rung keeps the pitch); the nearest one when none does."""
    candidates = other_instruments(name, pitch)
    first = None
    for other in candidates:
        clip = render_clip(INSTRUMENTS[other][0], pitch, folder, soundfont)
        first = first or (clip, other)
        hz = sounding_hz(clip)
        if target_hz is None or (hz is not None and abs(1200 * np.log2(hz / target_hz)) <= 50.0):
            return clip, other
    print(f"note: no other instrument sounds {name} {pitch}'s pitch; using {first[1]}")
    return first


def write_ladder(out: Path, folder: Path, soundfont: Path = SOUNDFONT) -> int:
    """Render every note's ladder companions into ``out/ladder`` (see the module docstring)."""
    ladder = out / "ladder"
    ladder.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (program, _, pitches) in INSTRUMENTS.items():
        for pitch in pitches:
            stem = f"{name}_{pitch:03d}"
            loud = render_raw(program, pitch, folder, soundfont=soundfont)
            octave = pitch + 12 if pitch + 12 <= 96 else pitch - 12
            other_clip, other = other_at_same_pitch(name, pitch, folder, soundfont, sounding_hz(loud))
            soft = render_raw(program, pitch, folder, LADDER_VELOCITY, soundfont) * peak_gain(loud)
            companions = {
                "velocity": (soft, name, pitch),
                "semitone": (render_clip(program, pitch + 1, folder, soundfont), name, pitch + 1),
                "octave": (render_clip(program, octave, folder, soundfont), name, octave),
                "other": (other_clip, other, pitch),
            }
            for kind, (audio, instrument, played) in companions.items():
                file = f"ladder/{stem}_{kind}.flac"
                sf.write(out / file, np.asarray(audio, dtype=np.float32), SAMPLE_RATE, subtype="PCM_16")
                rows.append([f"{stem}.flac", kind, file, instrument, played])
    with open(ladder / "ladder.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["note", "kind", "file", "instrument", "midi_pitch"])
        writer.writerows(rows)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--ladder", action="store_true", help="also render the metric ladder's companions")
    parser.add_argument("--ladder-only", action="store_true", help="render only the ladder's companions")
    parser.add_argument("--soundfont", type=Path, default=SOUNDFONT, help="a GM .sf2 (default FluidR3)")
    args = parser.parse_args()
    if shutil.which("fluidsynth") is None or not args.soundfont.is_file():
        raise SystemExit(
            f"needs fluidsynth and {args.soundfont}: apt-get update && "
            "apt-get install -y --no-install-recommends fluidsynth fluid-soundfont-gm"
        )
    sf2 = args.soundfont
    args.out.mkdir(parents=True, exist_ok=True)
    if args.ladder or args.ladder_only:
        with tempfile.TemporaryDirectory() as tmp:
            count = write_ladder(args.out, Path(tmp), sf2)
            print(f"wrote {count} ladder companions to {args.out / 'ladder'}")
        if args.ladder_only:
            return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (program, family, pitches) in INSTRUMENTS.items():
            for pitch in pitches:
                file = f"{name}_{pitch:03d}.flac"
                clip = render_clip(program, pitch, Path(tmp), sf2)
                sf.write(args.out / file, clip, SAMPLE_RATE, subtype="PCM_16")
                rows.append([file, name, family, program, pitch, VELOCITY])
    with open(args.out / "notes.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "instrument", "family", "gm_program", "midi_pitch", "velocity"])
        writer.writerows(rows)
    if sf2 == SOUNDFONT:
        shutil.copyfile(LICENSE, args.out / "LICENSE-FluidR3_GM.txt")
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {len(rows)} clips to {args.out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
