"""PCA + k-means over sampled patches, then gradient refinement ("sound design learning" recipe).

Training (once per task, cached): draw ``n_samples`` patches from the synth's
sampler, render them, compute audio features (MFCCs by default), standardise,
project with PCA, cluster with k-means. Solving: project the target the same
way, take the members of the nearest cluster closest to it as starting points,
and refine them with a gradient solver from the registry (``adam`` by default)
on the run's loss, within the target's budget.

Patches are rendered at the task's note (``note.pitch``); a recorded target at
another pitch is matched from starts learnt at that note (refinement renders it
at its own note).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from solvers.base import Problem, Result, Solver, Task, solver_registry
from solvers.learning import Stopwatch, cached_fit, fit_key, refine_from, render_batches, training_metrics
from soundmatch.errors import UserError
from soundmatch.seeding import derive_seed

FEATURES = ("mfcc", "logmel")
SUMMARIES = ("stats", "frames")


def audio_features(audio: np.ndarray, sample_rate: int, kind: str, summary: str, n_coeffs: int) -> np.ndarray:
    """Feature vectors ``[N, F]`` of ``audio[N, T]``.

    ``kind``: ``mfcc`` (librosa MFCCs, ``n_coeffs`` coefficients, 2048-point
    frames or the largest power of two that fits a shorter clip, hop a quarter
    frame) or ``logmel`` (log power mel spectrogram, ``n_coeffs`` bands, same
    frames, dB). ``summary``: ``stats`` (mean and standard deviation
    of each coefficient over frames: F = 2 n_coeffs) or ``frames`` (every frame,
    so envelopes count: F = n_coeffs * frames).
    """
    import librosa

    audio = np.asarray(audio, dtype=np.float32)
    n_fft = min(2048, 2 ** int(np.log2(max(audio.shape[-1], 16))))
    frames = {"n_fft": n_fft, "hop_length": n_fft // 4}
    if kind == "mfcc":
        coeffs = librosa.feature.mfcc(y=audio, sr=sample_rate, n_mfcc=n_coeffs, **frames)
    else:
        mel = librosa.feature.melspectrogram(y=audio, sr=sample_rate, n_mels=n_coeffs, **frames)
        coeffs = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    if summary == "stats":
        return np.concatenate([coeffs.mean(axis=-1), coeffs.std(axis=-1)], axis=-1)
    return coeffs.reshape(coeffs.shape[0], -1)


@solver_registry.register("pca_kmeans")
@dataclass
class PCAKMeans(Solver):
    """Nearest k-means cluster (PCA of MFCC features) as starting points for gradient descent.

    Args:
        n_samples: training patches drawn from ``synth.sample`` (training renders).
        features: ``mfcc`` or ``logmel``.
        summary: ``stats`` (mean + std over frames) or ``frames`` (all frames).
        n_coeffs: MFCC coefficients or mel bands.
        n_components: PCA dimensions (capped by the feature count and n_samples).
        n_clusters: k-means clusters.
        starts: starting points taken from the nearest cluster (its members
            closest to the target; topped up from the next nearest patches).
        refine: registry name of the gradient solver that refines the starts
            (it must accept ``solve(problem, x0=Tensor[K, D])``), or ``none`` to
            only evaluate the starts.
        refine_options: options for that solver.
        render_batch: patches rendered per batch while training.
        train_seed: seeds the training draws and k-means.
    """

    n_samples: int = 2000
    features: str = "mfcc"
    summary: str = "stats"
    n_coeffs: int = 20
    n_components: int = 16
    n_clusters: int = 32
    starts: int = 4
    refine: str = "adam"
    refine_options: dict[str, Any] = field(default_factory=dict)
    render_batch: int = 256
    train_seed: int = 0

    name = "pca_kmeans"

    def __post_init__(self) -> None:
        if self.features not in FEATURES:
            raise UserError(f"solver.features must be one of {FEATURES}, got '{self.features}'")
        if self.summary not in SUMMARIES:
            raise UserError(f"solver.summary must be one of {SUMMARIES}, got '{self.summary}'")
        if self.n_samples < 2 or self.n_clusters < 1 or self.starts < 1:
            raise UserError("solver.n_samples must be >= 2, n_clusters and starts >= 1")
        if self.n_clusters > self.n_samples:
            raise UserError(
                f"solver.n_clusters ({self.n_clusters}) exceeds solver.n_samples ({self.n_samples}); "
                "lower n_clusters or draw more samples"
            )
        self._state: dict[str, Any] | None = None

    def check_synth(self, synth: Any) -> None:
        if self.refine != "none":  # the refiner's limits are this solver's
            solver_registry.create(self.refine, **self.refine_options).check_synth(synth)

    def fit(self, task: Task) -> dict[str, float]:
        self.check_synth(task.synth)
        clock = Stopwatch()
        key = fit_key(self, task, solve_only=("starts", "refine", "refine_options"))
        state, from_cache = cached_fit(task, self.name, key, lambda: self._train(task))
        self._state = state
        return training_metrics(state, clock.seconds, from_cache)

    def _features(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return audio_features(audio, sample_rate, self.features, self.summary, self.n_coeffs)

    def _train(self, task: Task) -> dict[str, Any]:
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA

        clock = Stopwatch()
        gen = torch.Generator().manual_seed(derive_seed(self.train_seed, self.name, "patches"))
        params = task.synth.sample(self.n_samples, gen).float()
        audio = render_batches(task, params, self.render_batch).numpy()
        feats = self._features(audio, task.sample_rate).astype(np.float64)
        mean, scale = feats.mean(axis=0), feats.std(axis=0)
        scale[scale < 1e-12] = 1.0  # constant features carry nothing; avoid 0/0
        z = (feats - mean) / scale
        n_comp = min(self.n_components, z.shape[1], z.shape[0])
        seed = derive_seed(self.train_seed, self.name, "kmeans") % 2**31
        pca = PCA(n_components=n_comp, random_state=seed).fit(z)
        proj = pca.transform(z)
        km = KMeans(n_clusters=self.n_clusters, n_init=4, random_state=seed).fit(proj)
        as_t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64)  # noqa: E731
        return {
            "params": params,
            "feature_mean": as_t(mean),
            "feature_scale": as_t(scale),
            "pca_mean": as_t(pca.mean_),
            "pca_components": as_t(pca.components_),
            "projected": as_t(proj),
            "centers": as_t(km.cluster_centers_),
            "labels": torch.as_tensor(km.labels_, dtype=torch.long),
            "training_renders": self.n_samples,
            "training_seconds": clock.seconds,
        }

    def project(self, audio: np.ndarray, sample_rate: int) -> torch.Tensor:
        """PCA coordinates ``[N, C]`` of ``audio[N, T]`` in the fitted feature space."""
        s = self._require_state()
        feats = torch.as_tensor(self._features(audio, sample_rate), dtype=torch.float64)
        z = (feats - s["feature_mean"]) / s["feature_scale"]
        return (z - s["pca_mean"]) @ s["pca_components"].T

    def starting_points(self, audio: np.ndarray, sample_rate: int) -> tuple[torch.Tensor, int]:
        """The ``starts`` training patches ``[K, D]`` for one target ``audio[T]``, and its cluster."""
        s = self._require_state()
        z = self.project(audio[None], sample_rate)[0]
        cluster = int(torch.argmin((s["centers"] - z).square().sum(-1)))
        dist = (s["projected"] - z).square().sum(-1)
        # members of the nearest cluster first (closest first), then every other patch by distance
        outsider = (s["labels"] != cluster).double() * (float(dist.max()) + 1.0)
        order = torch.argsort(dist + outsider)
        return s["params"][order[: self.starts]].float(), cluster

    def _require_state(self) -> dict[str, Any]:
        if self._state is None:
            raise UserError("solver pca_kmeans was not fitted; the runner calls fit(task) before solve()")
        return self._state

    def solve(self, problem: Problem) -> Result:
        if self._state is None:  # used outside the runner: fit now, without a cache
            note, device = problem.target.note, problem.device
            self.fit(Task(problem.synth, problem.loss, problem.sample_rate, problem.duration, note, device))
        x0, cluster = self.starting_points(problem.target.audio.cpu().numpy(), problem.sample_rate)
        info = {"cluster": cluster, "starts": x0.shape[0]}
        if self.refine == "none":
            problem.evaluate(x0)
            return Result(problem.best_x, info)
        info.update(refine_from(problem, self.refine, self.refine_options, x0))
        return Result(problem.best_x, info)
