"""DiffMoog's signal-chain loss: a base loss summed over every stage of the synth's chain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from torch import Tensor

from losses.base import Loss, loss_registry
from soundmatch.errors import UserError

Stages = dict[str, Tensor]


def build_loss(spec: dict[str, Any], sample_rate: int, owner: str) -> Loss:
    """A loss from a config mapping ``{name: ..., **options}`` (used by composite losses)."""
    return loss_registry.from_spec(spec, f"each sub-loss of loss '{owner}'", sample_rate=sample_rate)


def as_stages(audio: Tensor | Stages) -> Stages:
    """Stage signals as a mapping; plain audio is the single stage ``output``."""
    return audio if isinstance(audio, dict) else {"output": audio}


@loss_registry.register("signal_chain")
@dataclass
class SignalChain(Loss):
    """``sum_s weight_s * base(pred_s, target_s)`` over the stages s of a synth's chain.

    Stages are a synth's ``stages(params)`` (e.g. fm2: ``modulator``, ``output``),
    each ``[B, T]``. The target's stages exist only when its parameters are known
    (synthetic targets): the Problem binds this loss on them (``uses_stages``).
    Given plain audio, the loss reduces to ``base`` on the output. ``weights`` maps
    stage names to weights (missing: 1). Unit: that of the base loss.
    """

    sample_rate: int = 16000
    base: dict[str, Any] = field(default_factory=lambda: {"name": "mss"})
    weights: dict[str, float] = field(default_factory=dict)

    name: ClassVar[str] = "signal_chain"
    uses_stages: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self._base = build_loss(self.base, self.sample_rate, "signal_chain")

    def features(self, audio: Tensor | Stages) -> dict[str, Any]:
        return {name: self._base.features(signal) for name, signal in as_stages(audio).items()}

    def compare(self, pred: Tensor | Stages, target_features: dict[str, Any]) -> Tensor:
        stages = as_stages(pred)
        missing = set(target_features) - set(stages)
        if missing:
            raise UserError(f"loss signal_chain: the prediction lacks stages {sorted(missing)}")
        total = None
        for name, feats in target_features.items():
            term = self.weights.get(name, 1.0) * self._base.compare(stages[name], feats)
            total = term if total is None else total + term
        assert total is not None
        return total
