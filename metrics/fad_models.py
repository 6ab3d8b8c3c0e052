"""VGGish and PANNs (Cnn14) embeddings for FAD, loaded only from a weights file the user names.

Nothing is downloaded: ``metric_options.fad.weights`` must point at a local
PyTorch state dict in the layout the common ports publish: VGGish as in
torchvggish (``features.*`` and ``embeddings.*``; ``pproc.*`` ignored), Cnn14
as in the PANNs release (a dict whose ``model`` entry holds ``bn0.*``,
``conv_block1..6.*``, ``fc1.*``; the log-mel filterbank ``logmel_extractor.melW``
is used when present). The networks follow the published architectures:

- VGGish (Hershey et al. 2017): 16 kHz; 25 ms periodic-Hann frames every 10 ms,
  512-point FFT magnitude, 64 HTK-mel bands 125-7500 Hz, ``log(mel + 0.01)``;
  examples of 96 frames (0.96 s); four conv groups (64, 128, 256x2, 512x2;
  3x3, ReLU, 2x2 max-pool) and fully connected 4096-4096-128 with ReLU.
  One 128-d embedding per 0.96 s example.
- Cnn14 (Kong et al. 2020): 32 kHz; 1024-point STFT power every 320 samples,
  64 Slaney-mel bands 50-14000 Hz in dB, batch norm over bands; six blocks
  of two 3x3 conv + BN + ReLU (64 ... 2048 channels) with 2x2 average pooling
  (none after the last); mean over frequency, max + mean over time, fc 2048
  with ReLU. One 2048-d embedding per clip.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr
import torch
import torch.nn.functional as F
from torch import nn

from metrics.fad import Embedding, embedding_registry
from soundmatch.errors import UserError


def _weights_file(weights: str | None, model: str, hint: str) -> Path:
    if not weights:
        raise UserError(
            f"FAD embedding '{model}' needs a local weights file: set metric_options.fad.weights=PATH "
            f"({hint}); nothing is downloaded"
        )
    path = Path(weights).expanduser()
    if not path.is_file():
        raise UserError(f"{model} weights file {path} not found; check metric_options.fad.weights")
    return path


def _load_state(path: Path, model: str) -> dict[str, torch.Tensor]:
    try:
        state: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unreadable file is the user's to fix
        raise UserError(
            f"cannot read {model} weights {path} ({type(err).__name__}); name a .pth state dict"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise UserError(f"{model} weights {path} are not a state dict")
    return state


def _to_rate(audio: np.ndarray, sample_rate: int, rate: int) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float32)
    return x if sample_rate == rate else soxr.resample(x, sample_rate, rate, quality="HQ").astype(np.float32)


# --- VGGish ----------------------------------------------------------------------------------------
VGGISH_RATE = 16000


@functools.lru_cache(maxsize=1)
def htk_mel_matrix(
    n_bins: int = 257, n_mels: int = 64, fmin: float = 125.0, fmax: float = 7500.0
) -> np.ndarray:
    """Triangular HTK-mel weights ``[n_bins, n_mels]`` (peak 1, DC row 0), as VGGish's front end."""

    def mel(hz: np.ndarray | float) -> np.ndarray:
        return 1127.0 * np.log1p(np.asarray(hz) / 700.0)

    bins_mel = mel(np.linspace(0.0, VGGISH_RATE / 2, n_bins))
    edges = np.linspace(mel(fmin), mel(fmax), n_mels + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (center - lower)
    falling = (upper - bins_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


def vggish_examples(audio: np.ndarray, sample_rate: int, hop_frames: int = 96) -> torch.Tensor:
    """Log-mel examples ``[N, 1, 96, 64]``; a clip shorter than 0.96 s is zero-padded to one example."""
    x = _to_rate(audio, sample_rate, VGGISH_RATE)
    win, hop, n_fft = 400, 160, 512
    need = win + 95 * hop
    if len(x) < need:
        x = np.pad(x, (0, need - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic Hann
    mag = np.abs(np.fft.rfft(frames * window, n_fft))
    log_mel = np.log(mag @ htk_mel_matrix() + 0.01).astype(np.float32)
    starts = range(0, log_mel.shape[0] - 96 + 1, hop_frames)
    return torch.from_numpy(np.stack([log_mel[s : s + 96] for s in starts]))[:, None]


class VGGishNet(nn.Module):
    """VGGish; ``forward(examples[N, 1, 96, 64]) -> [N, 128]``. Layer indices match torchvggish."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for group in ((64,), (128,), (256, 256), (512, 512)):
            for out in group:
                layers += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU(inplace=True)]
                channels = out
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 4 * 6, 4096), nn.ReLU(True), nn.Linear(4096, 4096), nn.ReLU(True),
            nn.Linear(4096, 128), nn.ReLU(True),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # flatten as TensorFlow did (NHWC)
        return self.embeddings(x)


@embedding_registry.register("vggish")
@dataclass
class VGGishEmbedding(Embedding):
    """VGGish's 128-d embedding of every 0.96 s example (``hop_frames`` of 10 ms between examples)."""

    weights: str | None = None
    hop_frames: int = 96

    name = "vggish"

    def __post_init__(self) -> None:
        path = _weights_file(self.weights, "vggish", "a torchvggish state dict such as vggish-10086976.pth")
        state = _load_state(path, "vggish")
        net = VGGishNet()
        try:
            net.load_state_dict({k: v for k, v in state.items() if not k.startswith("pproc")})
        except RuntimeError as err:
            raise UserError(f"vggish weights {path} do not fit VGGish: {str(err).splitlines()[0]}") from None
        self._net = net.eval()

    @torch.no_grad()
    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return self._net(vggish_examples(audio, sample_rate, self.hop_frames)).numpy()


# --- PANNs Cnn14 --------------------------------------------------------------------------------------
PANNS_RATE = 32000


class ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return F.avg_pool2d(x, pool) if pool > 1 else x


class Cnn14(nn.Module):
    """PANNs' Cnn14 up to its 2048-d embedding; ``forward(log_mel[B, 1, frames, 64]) -> [B, 2048]``."""

    def __init__(self) -> None:
        super().__init__()
        self.bn0 = nn.BatchNorm2d(64)
        widths = (1, 64, 128, 256, 512, 1024, 2048)
        for i in range(6):
            self.add_module(f"conv_block{i + 1}", ConvBlock(widths[i], widths[i + 1]))
        self.fc1 = nn.Linear(2048, 2048)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)  # normalise each mel band
        for i in range(6):
            x = getattr(self, f"conv_block{i + 1}")(x, 2 if i < 5 else 1)
        x = x.mean(dim=3)
        x = x.amax(dim=2) + x.mean(dim=2)
        return F.relu(self.fc1(x))


@embedding_registry.register("panns")
@dataclass
class PANNsEmbedding(Embedding):
    """PANNs Cnn14's 2048-d clip embedding (one per clip)."""

    weights: str | None = None

    name = "panns"

    def __post_init__(self) -> None:
        path = _weights_file(self.weights, "panns", "a PANNs checkpoint such as Cnn14_mAP=0.431.pth")
        state = _load_state(path, "panns")
        net = Cnn14()
        keep = {k: v for k, v in state.items() if k.split(".")[0] in dict(net.named_children())}
        try:
            result = net.load_state_dict(keep, strict=False)
        except RuntimeError as err:
            raise UserError(f"panns weights {path} do not fit Cnn14: {str(err).splitlines()[0]}") from None
        missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
        if missing:
            raise UserError(f"panns weights {path} lack {len(missing)} Cnn14 tensors (e.g. {missing[0]})")
        self._net = net.eval()
        mel = state.get("logmel_extractor.melW")
        if mel is None:
            import librosa

            mel = torch.from_numpy(
                librosa.filters.mel(sr=PANNS_RATE, n_fft=1024, n_mels=64, fmin=50, fmax=14000).T
            )
        self._mel = mel.float()  # [513, 64]

    @torch.no_grad()
    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        x = torch.from_numpy(_to_rate(audio, sample_rate, PANNS_RATE))[None]
        window = torch.hann_window(1024, periodic=True)
        spec = torch.stft(x, 1024, 320, window=window, center=True, pad_mode="reflect", return_complex=True)
        power = (spec.real.square() + spec.imag.square()).transpose(1, 2)  # [1, frames, 513]
        log_mel = 10.0 * torch.log10((power @ self._mel).clamp(min=1e-10))
        return self._net(log_mel[:, None]).numpy()
