"""DX7 bank targets: the voices of a sysex file, played by the task's DX7-family synth."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmark.run.targets.base import SILENCE_RMS, SuiteContext, TargetSuite, rms, suite_registry
from solvers.base import Target
from soundmatch.errors import UserError
from synths.dx7.family import require_dx7_family
from synths.dx7.sysex import read_voices


@suite_registry.register("dx7_bank")
@dataclass
class DX7BankSuite(TargetSuite):
    """Voices of a DX7 ``.syx`` file (32-voice bank or single voice); ground truth known.

    Each voice is mapped into the task synth's unit cube with ``voice_to_unit``
    (that is the ground truth) and rendered by the task's synth at the task's
    note. What the synth's parameter space does not hold is the synth's
    configuration: with a fixed ``synth.algorithm`` every voice plays through
    that algorithm, with ``synth.algorithm=null`` through its own. Voices that
    render silent at the task's note are left out.

    Args:
        path: the ``.syx`` file.
        first: index of the first voice taken (0-31).
        n: how many voices from ``first``; None for all the rest.
    """

    path: str | None = None
    first: int = 0
    n: int | None = None

    name = "dx7_bank"
    uses_synth = True

    def targets(self, ctx: SuiteContext) -> list[Target]:
        if not self.path:
            raise UserError("target=dx7_bank needs target.path=FILE.syx (a DX7 bank or single voice)")
        require_dx7_family(ctx.synth, ctx.synth.name, "target=dx7_bank")
        path = Path(self.path)
        voices = read_voices(path)
        if not 0 <= self.first < len(voices):
            raise UserError(f"target.first={self.first} is outside 0-{len(voices) - 1} for {path}")
        if self.n is not None and self.n < 1:
            raise UserError(f"target.n must be >= 1 or null (all voices), got {self.n}")
        stop = len(voices) if self.n is None else min(len(voices), self.first + self.n)
        indices = list(range(self.first, stop))
        x = torch.stack([ctx.synth.voice_to_unit(voices[i]).reshape(-1).float() for i in indices])  # type: ignore[attr-defined]
        with torch.no_grad():
            audio = ctx.synth.render(
                x.to(ctx.device), sample_rate=ctx.sample_rate, duration=ctx.duration, note=ctx.note
            ).cpu()
        digest = hashlib.sha1(path.read_bytes()).hexdigest()[:12]
        audible = rms(audio) > SILENCE_RMS
        targets = [
            Target(
                audio=audio[k],
                sample_rate=ctx.sample_rate,
                name=f"{slug(path.stem)}-{i:02d}-{slug(voices[i].name)}",
                note=ctx.note,
                params=x[k],
                meta={"file": str(path), "sha1": digest, "voice": i, "voice_name": voices[i].name.strip()},
            )
            for k, i in enumerate(indices)
            if audible[k]
        ]
        if not targets:
            raise UserError(
                f"every selected voice of {path} renders silent with synth '{ctx.synth.name}' at note "
                f"{ctx.note.pitch}; check target.first/target.n, note.pitch and duration"
            )
        return targets


def slug(text: str) -> str:
    """File-name-safe lower-case form of a voice or file name ("E.PIANO 1" -> "e-piano-1")."""
    return re.sub(r"[^a-z0-9]+", "-", text.strip().lower()).strip("-") or "voice"
