"""Synthetic targets: seeded random patches of the task's own synth."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from benchmark.targets.base import SILENCE_RMS, SuiteContext, TargetSuite, rms, suite_registry
from solvers.base import Target
from soundmatch.errors import UserError
from soundmatch.seeding import derive_seed


@suite_registry.register("synthetic")
@dataclass
class SyntheticSuite(TargetSuite):
    """``n`` patches drawn from ``synth.sample`` with ``seed``; ground truth kept.

    Draws that render (near) silent, RMS below 1e-4, are replaced by further
    draws from the same generator, so the suite stays deterministic.
    """

    n: int = 8
    seed: int = 0

    name = "synthetic"
    uses_synth = True

    def targets(self, ctx: SuiteContext) -> list[Target]:
        if self.n < 1:
            raise UserError(f"target.n must be >= 1, got {self.n}")
        gen = torch.Generator().manual_seed(derive_seed(self.seed, "synthetic-suite"))
        kept: list[torch.Tensor] = []
        audio: list[torch.Tensor] = []
        for _ in range(20):
            x = ctx.synth.sample(self.n, gen)
            with torch.no_grad():
                y = ctx.synth.render(
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
                f"synth '{ctx.synth.name}' rendered silence for most random patches; "
                "check its options (e.g. note, duration)"
            )
        return [
            Target(
                audio=audio[i],
                sample_rate=ctx.sample_rate,
                name=f"{ctx.synth.name}-{i:03d}",
                note=ctx.note,
                params=kept[i],
                meta={"index": i},
            )
            for i in range(self.n)
        ]
