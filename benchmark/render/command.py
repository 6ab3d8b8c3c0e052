"""The ``render`` command: write a sound as a WAV file (32-bit float, mono).

    python -m benchmark render synth=dx7 patch=FILE.syx voice=0 note=60 velocity=100 \\
        hold=2.0 sample_rate=16000 out=FILE.wav [tail=SECONDS]

The argument that names the source picks the mode (:data:`RENDER_MODES`): with
``patch=`` a voice of a DX7 sysex file is played by a DX7-family synth, held for
``hold`` seconds (note-off), then released for ``tail`` seconds: the file lasts
``hold + tail`` (``duration=`` is the old name of ``hold``, accepted until 0.2). A new mode is one
:class:`RenderMode` (its options and a function that renders them) added to
:data:`RENDER_MODES` under the key that selects it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from benchmark.options import (
    Option,
    did_you_mean,
    integer,
    number,
    parse_options,
    split_key_values,
    text,
    usage,
)
from benchmark.render.match import RUN_OPTIONS, render_match
from benchmark.render.mode import Rendered, RenderMode
from soundmatch.errors import UserError
from synths.base import Note
from synths.dx7.family import render_voice, synth_for_voice
from synths.dx7.sysex import read_voices


def render_patch(values: dict[str, Any]) -> Rendered:
    """A DX7 voice from a sysex file, played by a DX7-family synth."""
    path = Path(values["patch"])
    voices = read_voices(path)
    index = values["voice"]
    if index >= len(voices):
        raise UserError(f"{path} holds {len(voices)} voice(s); voice={index} is outside 0-{len(voices) - 1}")
    voice = voices[index]
    synth = synth_for_voice(values["synth"], voice, hold=values["hold"])
    sample_rate = values["sample_rate"]
    audio = render_voice(
        synth,
        voice,
        note=Note(float(values["note"]), values["velocity"]),
        sample_rate=sample_rate,
        duration=values["hold"] + values["tail"],
    )
    return Rendered(
        audio, sample_rate, f"voice {index} '{voice.name.strip()}' of {path} with {values['synth']}"
    )


PATCH_OPTIONS = (
    Option("patch", text, help="DX7 sysex file: single voice (163 bytes) or 32-voice bank (4104 bytes)"),
    Option("synth", text, "dx7", "a DX7-family synth: dx7 (differentiable engine) or dexed (reference)"),
    Option("voice", integer(0, 31), 0, "voice index in the file, 0-31"),
    Option("note", integer(0, 127), 60, "MIDI note"),
    Option("velocity", integer(1, 127), 100, "MIDI velocity"),
    Option("hold", number(above=0.0, high=600.0), 2.0, "seconds from note-on to note-off"),
    Option("tail", number(0.0, 600.0), 0.0, "seconds of release after note-off"),
    Option("sample_rate", integer(1000, 384000), 16000, "Hz"),
)

RENDER_MODES: dict[str, RenderMode] = {
    "patch": RenderMode("play a DX7 voice from a .syx file", PATCH_OPTIONS, render_patch),
    "run_id": RenderMode(
        "re-render a logged implicit_fm match: any rate, stretched, stereo detune", RUN_OPTIONS, render_match
    ),
}

OUT = Option("out", text, help="WAV file to write")


def help_text() -> str:
    parts = ["usage: python -m benchmark render <source>=... out=FILE.wav [key=value ...]", ""]
    for key, mode in RENDER_MODES.items():
        parts += [f"{key}=...: {mode.summary}", usage([*mode.options, OUT]), ""]
    return "\n".join(parts)


def checked_out_path(out: Path) -> Path:
    """``out=`` as a WAV file in an existing folder, or one line saying what to give instead."""
    if out.is_dir():
        raise UserError(f"render: out={out} is a folder; name a file in it, e.g. out={out / 'render.wav'}")
    if out.suffix.lower() != ".wav":
        raise UserError(f"render: out={out} must end in .wav (render writes 32-bit float WAV)")
    if not out.parent.is_dir():
        raise UserError(f"render: the folder of out={out} does not exist; create {out.parent} first")
    return out


def render_cli(args: list[str]) -> int:
    """``python -m benchmark render key=value ...``: render and write ``out=`` as WAV."""
    if any(a in ("-h", "--help", "help") for a in args):
        print(help_text())
        return 0
    raw = split_key_values(args, "render")
    every = list(dict.fromkeys(o.key for m in RENDER_MODES.values() for o in (*m.options, OUT)))
    unknown = [k for k in raw if k not in every]
    if unknown:  # named before the mode is chosen: a typo in the source's key is one too
        raise UserError(f"render: unknown option '{unknown[0]}'{did_you_mean(unknown[0], every)}; "
                        "see `python -m benchmark render --help`")  # fmt: skip
    chosen = [key for key in RENDER_MODES if key in raw]
    if len(chosen) != 1:
        keys = " or ".join(f"{k}=..." for k in RENDER_MODES)
        found = f"got {', '.join(chosen)}" if chosen else "got none"
        raise UserError(f"render: give exactly one source, {keys} ({found}); see `render --help`")
    mode = RENDER_MODES[chosen[0]]
    values = parse_options(raw, [*mode.options, OUT], "render")
    out = checked_out_path(Path(values["out"]))  # before any rendering: a wrong path costs nothing
    rendered = mode.render(values)
    try:
        sf.write(str(out), np.asarray(rendered.audio, dtype=np.float32), rendered.sample_rate, "FLOAT")
    except (OSError, sf.LibsndfileError) as err:
        raise UserError(f"render: cannot write {out}: {err}") from None
    seconds = len(rendered.audio) / rendered.sample_rate
    peak = float(np.abs(rendered.audio).max()) if len(rendered.audio) else 0.0
    print(
        f"wrote {out}: {rendered.description}; {seconds:.3f} s at {rendered.sample_rate} Hz, peak {peak:.3f}"
    )
    return 0
