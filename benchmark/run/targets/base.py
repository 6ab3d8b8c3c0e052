"""The target-suite contract and registry (entry-point group ``soundmatch.targets``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch

from solvers.base import Target
from soundmatch.registry import Registry
from synths.base import Note, Synth

suite_registry: Registry = Registry("target suite", "soundmatch.targets", package="benchmark.run.targets")

SILENCE_RMS = 1e-4


@dataclass
class SuiteContext:
    """What a suite may need to build its targets: the task's synth, rate, length and note."""

    synth: Synth
    sample_rate: int
    duration: float
    note: Note
    device: torch.device


class TargetSuite(ABC):
    """A deterministic list of targets. Subclasses are dataclasses of their config options.

    ``uses_synth`` is True when the targets depend on the synth's configuration
    (synthetic suites), so the suite's name changes with it and leaderboards
    never mix suites.
    """

    name: ClassVar[str] = ""
    uses_synth: ClassVar[bool] = False
    # options always shown in the suite's readable name (others only when not at their default)
    label_keys: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def targets(self, ctx: SuiteContext) -> list[Target]:
        """The suite's targets, in a fixed order."""

    def run_tags(self) -> dict[str, str]:
        """Tags for the parent run, read after :meth:`targets` (e.g. how many files were skipped)."""
        return {}


def rms(audio: torch.Tensor) -> torch.Tensor:
    """Root-mean-square level over the last axis."""
    return audio.square().mean(dim=-1).sqrt()
