"""A weighted sum of losses, from config.

    python -m benchmark run loss=combo \
        'loss.terms=[{name: mss, weight: 1}, {name: spectral_ot, weight: 0.1, scale: log}]'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from torch import Tensor

from losses.base import Loss, loss_registry
from losses.signal_chain import Stages, as_stages, build_loss
from soundmatch.errors import UserError


@loss_registry.register("combo")
@dataclass
class Combo(Loss):
    """``sum_i weight_i * loss_i(pred, target)``.

    ``terms`` is a list of mappings ``{name, weight (default 1), **options of that
    loss}``. When any term uses a synth's stages (``signal_chain``), so does the
    combination; the other terms see the ``output`` stage. Unit: mixed (weights decide).
    """

    sample_rate: int = 16000
    terms: list[dict[str, Any]] = field(
        default_factory=lambda: [{"name": "mss", "weight": 1.0}, {"name": "spectral_ot", "weight": 0.001}]
    )

    name: ClassVar[str] = "combo"

    def __post_init__(self) -> None:
        if not self.terms:
            raise UserError("loss combo: loss.terms is empty; give at least one {name: ..., weight: ...}")
        self._losses: list[tuple[float, Loss]] = []
        for term in self.terms:
            options = dict(term)
            weight = float(options.pop("weight", 1.0))
            self._losses.append((weight, build_loss(options, self.sample_rate, "combo")))
        self.uses_stages = any(getattr(loss, "uses_stages", False) for _, loss in self._losses)

    @staticmethod
    def _view(loss: Loss, audio: Tensor | Stages) -> Tensor | Stages:
        if getattr(loss, "uses_stages", False):
            return audio
        return audio["output"] if isinstance(audio, dict) else audio

    def features(self, audio: Tensor | Stages) -> list[Any]:
        if self.uses_stages:
            audio = as_stages(audio)
        return [loss.features(self._view(loss, audio)) for _, loss in self._losses]

    def compare(self, pred: Tensor | Stages, target_features: list[Any]) -> Tensor:
        total = None
        for (weight, loss), feats in zip(self._losses, target_features, strict=True):
            term = weight * loss.compare(self._view(loss, pred), feats)
            total = term if total is None else total + term
        assert total is not None
        return total
