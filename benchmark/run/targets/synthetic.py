"""Synthetic targets: seeded random patches of the task's own synth (or of another synth's preset)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from benchmark.run.presets import create_synth
from benchmark.run.targets.base import SILENCE_RMS, SuiteContext, TargetSuite, rms, suite_registry
from solvers.base import Target
from soundmatch.errors import UserError
from soundmatch.seeding import derive_seed
from synths.base import Note, Synth

MAX_TARGETS = 100_000  # synthetic targets per suite: they are all rendered up front


@suite_registry.register("synthetic")
@dataclass
class SyntheticSuite(TargetSuite):
    """``n`` patches drawn from ``synth.sample`` with ``seed``; ground truth kept.

    Draws that render (near) silent, RMS below 1e-4, are replaced by further
    draws from the same generator, so the suite stays deterministic.

    ``synth``: a synth preset name (``conf/synth/``) that renders the targets
    instead of the task's synth, so a solver of another synth (e.g. implicit_fm)
    is scored on the very suite of that preset (same name, same targets). Its true
    parameters are then kept in ``meta["target_params"]`` only, as they are not
    the task synth's.

    ``notes`` (MIDI) and ``velocities`` (1-127): each target is played at one of
    them, drawn with the suite's seed (a target keeps its note: solvers render
    at it); unset, every target is played at the task's note (``note.pitch``,
    ``note.velocity``).
    """

    n: int = 8
    seed: int = 0
    synth: str | None = None
    notes: list[float] | None = None
    velocities: list[int] | None = None

    name = "synthetic"
    uses_synth = True
    label_keys = ("n", "seed")

    def __post_init__(self) -> None:
        if not 1 <= self.n <= MAX_TARGETS:
            raise UserError(f"target.n={self.n}: a whole number in [1, {MAX_TARGETS}], e.g. target.n=8")
        if self.seed < 0:
            raise UserError(f"target.seed={self.seed}: a whole number >= 0")
        if self.notes is not None and (not self.notes or any(not 0 <= float(p) <= 127 for p in self.notes)):
            raise UserError(f"target.notes={self.notes}: MIDI notes in [0, 127], e.g. [48,60,72]")
        if self.velocities is not None and (
            not self.velocities or any(isinstance(v, bool) or not 1 <= int(v) <= 127 for v in self.velocities)
        ):
            raise UserError(f"target.velocities={self.velocities}: velocities in [1, 127], e.g. [64,100,127]")

    def _played(self, count: int, ctx: SuiteContext, gen: torch.Generator) -> list[Note]:
        """The note each of ``count`` draws is played at (drawn from ``notes`` x ``velocities``)."""
        pitches = [float(p) for p in self.notes] if self.notes is not None else [ctx.note.pitch]
        velocities = [int(v) for v in self.velocities] if self.velocities is not None else [ctx.note.velocity]
        p = torch.randint(len(pitches), (count,), generator=gen).tolist()
        v = torch.randint(len(velocities), (count,), generator=gen).tolist()
        return [Note(pitches[i], velocities[j]) for i, j in zip(p, v, strict=True)]

    def targets(self, ctx: SuiteContext) -> list[Target]:
        gen = torch.Generator().manual_seed(derive_seed(self.seed, "synthetic-suite"))
        synth: Synth = ctx.synth
        if self.synth is not None:  # synthetic targets are rendered with the note-off at 75%
            synth = create_synth(self.synth)
        own = synth is ctx.synth
        varied = self.notes is not None or self.velocities is not None
        kept: list[torch.Tensor] = []
        audio: list[torch.Tensor] = []
        notes: list[Note] = []
        for _ in range(20):
            x = synth.sample(self.n, gen)
            played = self._played(self.n, ctx, gen) if varied else [ctx.note] * self.n
            y = torch.zeros(self.n, 0)
            for note in dict.fromkeys(played):  # one batch per distinct note, in the order drawn
                rows = [i for i, p in enumerate(played) if p == note]
                with torch.no_grad():
                    part = synth.render(
                        x[rows].to(ctx.device), sample_rate=ctx.sample_rate, duration=ctx.duration, note=note
                    ).cpu()
                if y.shape[1] == 0:
                    y = torch.zeros(self.n, part.shape[1])
                y[rows] = part
            ok = rms(y) > SILENCE_RMS
            kept.extend(x[ok])
            audio.extend(y[ok])
            notes.extend(p for p, good in zip(played, ok.tolist(), strict=True) if good)
            if len(kept) >= self.n:
                break
        else:
            raise UserError(
                f"synth '{synth.name}' rendered silence for most random patches; "
                "check its options (e.g. note, duration)"
            )
        return [
            Target(
                audio=audio[i],
                sample_rate=ctx.sample_rate,
                name=f"{synth.name}-{i:03d}",
                note=notes[i],
                params=kept[i] if own else None,
                meta={"index": i} if own else {"index": i, "target_params": kept[i].tolist()},
            )
            for i in range(self.n)
        ]
