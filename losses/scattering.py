"""Time-scattering distance (kymatio's Scattering1D, torch frontend)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from losses.base import Loss, loss_registry


@loss_registry.register("scattering")
@dataclass
class ScatteringDistance(Loss):
    """``mean |log(S pred + eps) - log(S target + eps)|`` over scattering paths and time.

    S is the first- and second-order wavelet time scattering of Andén & Mallat
    (kymatio's ``Scattering1D(J, shape=T, Q)``): Morlet filter banks with Q wavelets
    per octave over J octaves, averaged over 2^J samples (2^J / sample_rate s).
    The zeroth-order coefficient (the low-passed signal) is dropped; it is not a
    spectral feature. Unitless (log ratio).
    """

    sample_rate: int = 16000
    J: int = 8
    Q: int = 4
    eps: float = 1e-4

    def __post_init__(self) -> None:
        self._transforms: dict[tuple[int, str], Any] = {}

    def _transform(self, num_samples: int, device: torch.device, dtype: torch.dtype):
        key = (num_samples, str(device), str(dtype))
        if key not in self._transforms:
            # the 1-D frontend alone: ``kymatio.torch`` also imports the 3-D one, which
            # needs scipy.special.sph_harm (removed in recent SciPy)
            from kymatio.scattering1d.frontend.torch_frontend import ScatteringTorch1D

            transform = ScatteringTorch1D(J=self.J, shape=num_samples, Q=self.Q)
            self._transforms[key] = transform.to(device=device, dtype=dtype)  # the audio's precision
        return self._transforms[key]

    def _log_scattering(self, audio: Tensor) -> Tensor:
        coeffs = self._transform(audio.shape[-1], audio.device, audio.dtype)(audio)
        return torch.log(coeffs[..., 1:, :] + self.eps)

    def features(self, audio: Tensor) -> Tensor:
        return self._log_scattering(audio)

    def compare(self, pred: Tensor, target_features: Tensor) -> Tensor:
        return (self._log_scattering(pred) - target_features).abs().mean(dim=(-2, -1))
