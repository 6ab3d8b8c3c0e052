"""Synthetic targets: seeded random patches of the task's own synth (or of another synth's preset)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from benchmark.run.presets import create_synth
from benchmark.run.targets.base import SILENCE_RMS, SuiteContext, TargetSuite, rms, suite_registry
from solvers.base import Target
from soundmatch.errors import UserError
from soundmatch.seeding import derive_seed
from synths.base import Synth

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
    """

    n: int = 8
    seed: int = 0
    synth: str | None = None

    name = "synthetic"
    uses_synth = True
    label_keys = ("n", "seed")

    def __post_init__(self) -> None:
        if not 1 <= self.n <= MAX_TARGETS:
            raise UserError(f"target.n={self.n}: a whole number in [1, {MAX_TARGETS}], e.g. target.n=8")
        if self.seed < 0:
            raise UserError(f"target.seed={self.seed}: a whole number >= 0")

    def targets(self, ctx: SuiteContext) -> list[Target]:
        gen = torch.Generator().manual_seed(derive_seed(self.seed, "synthetic-suite"))
        synth: Synth = ctx.synth
        if self.synth is not None:  # synthetic targets are rendered with the note-off at 75%
            synth = create_synth(self.synth)
        own = synth is ctx.synth
        kept: list[torch.Tensor] = []
        audio: list[torch.Tensor] = []
        for _ in range(20):
            x = synth.sample(self.n, gen)
            with torch.no_grad():
                y = synth.render(
                    x.to(ctx.device),
                    sample_rate=ctx.sample_rate,
                    duration=ctx.duration,
                    note=ctx.note,
                ).cpu()
            ok = rms(y) > SILENCE_RMS
            kept.extend(x[ok])
            audio.extend(y[ok])
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
                note=ctx.note,
                params=kept[i] if own else None,
                meta={"index": i} if own else {"index": i, "target_params": kept[i].tolist()},
            )
            for i in range(self.n)
        ]
