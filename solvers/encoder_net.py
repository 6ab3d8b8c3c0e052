"""The amortized encoder's network: log-mel input, CNN or GRU backbone, one head per parameter.

``EncoderNet(audio[B, T]) -> Prediction``: continuous parameters through a sigmoid
(unit cube), categorical ones as logits over their choices (softmax; Gumbel-softmax
samples while training). The continuous heads are the rows of one linear layer
(each row sees the shared embedding and predicts one parameter); each categorical
parameter has its own linear head. ``discrete`` makes integer parameters classes too
(a DX7 operator's coarse ratio: the mean of ratios 1 and 3 is no ratio a preset has).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from solvers.retrieval import FRAMES, RANGE_DB, _bands, transposed
from synths.base import ParamSpec

BACKBONES = ("cnn", "gru", "bands")
NOTE_CENTRE = 60.0  # ``bands``: every input is moved to sound as if played at this MIDI note


class LogMel(nn.Module):
    """Log-mel spectrogram ``[B, n_mels, frames]`` of ``audio[B, T]`` (Hann, n_fft, hop = n_fft / 4).

    Values are ``(ln(mel power + 1e-6) + 7) / 4`` so that typical levels sit near
    [-1, 1]; no per-clip normalisation, so the level stays visible to the net.
    """

    def __init__(self, sample_rate: int, n_mels: int = 64, n_fft: int = 1024):
        super().__init__()
        import librosa

        fb = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=20.0, fmax=sample_rate / 2)
        self.register_buffer("filters", torch.as_tensor(fb, dtype=torch.float32))
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True))
        self.n_fft = n_fft
        self.hop = n_fft // 4

    def forward(self, audio: Tensor) -> Tensor:
        spec = torch.stft(audio, self.n_fft, self.hop, window=self.window, center=True, return_complex=True)
        power = spec.real.square() + spec.imag.square()
        mel = torch.einsum("mf,bft->bmt", self.filters, power)
        return (torch.log(mel + 1e-6) + 7.0) / 4.0


class NoteBands(nn.Module):
    """Semitone-band spectrogram ``[B, bands, 16]`` of ``audio[B, T]`` moved to :data:`NOTE_CENTRE`:
    :func:`solvers.retrieval.embed`'s bands (dB re the clip's loudest, 60 dB deep, 16 frames),
    shifted by ``NOTE_CENTRE - note`` whole semitones. A partial's band then says its ratio to
    the note played, which is what a coarse ratio is; the clip's level is left out."""

    def __init__(self, sample_rate: int):
        super().__init__()

        n_fft, bank = _bands(sample_rate)
        self.register_buffer("bank", torch.as_tensor(bank, dtype=torch.float32), persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft, periodic=False), persistent=False)
        self.n_fft, self.frames, self.range_db = n_fft, FRAMES, RANGE_DB

    @property
    def bands(self) -> int:
        return int(self.bank.shape[0])

    def forward(self, audio: Tensor, note: Tensor) -> Tensor:
        hop = self.n_fft // 4
        spec = torch.stft(audio, self.n_fft, hop, window=self.window, center=False, return_complex=True)
        power = torch.einsum("bk,nkt->nbt", self.bank, spec.real.square() + spec.imag.square())
        pooled = F.adaptive_avg_pool1d(power, self.frames)
        db = 10.0 * torch.log10(pooled.clamp_min(1e-30))
        db = (db - db.amax(dim=(1, 2), keepdim=True)).clamp_min(-self.range_db)
        shifts = torch.round(NOTE_CENTRE - note).long().tolist()
        moved = torch.stack([transposed(row, k) for row, k in zip(db, shifts, strict=True)])
        return moved / self.range_db + 0.5  # about -0.5 .. 0.5


class BandsBackbone(nn.Module):
    """Two hidden layers over the flattened note-relative bands, with dropout: a thousand presets
    are few for 1,536 inputs (without it the net learnt the train split by heart, 100% of
    algorithms, and classed held-out banks' no better than the most common class)."""

    def __init__(self, bands: int, frames: int, hidden: int, dropout: float = 0.3):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(bands * frames, hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(),
        )  # fmt: skip

    def forward(self, features: Tensor) -> Tensor:
        return self.net(features)


class CNNBackbone(nn.Module):
    """Four strided 3x3 conv layers (16-32-64-64 channels), pooled to 4 x 4, then a linear layer."""

    def __init__(self, hidden: int):
        super().__init__()
        layers: list[nn.Module] = []
        channels = [1, 16, 32, 64, 64]
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.GroupNorm(4, c_out), nn.ReLU()]
        self.conv = nn.Sequential(*layers, nn.AdaptiveAvgPool2d((4, 4)), nn.Flatten())
        self.out = nn.Sequential(nn.Linear(64 * 16, hidden), nn.ReLU())

    def forward(self, mel: Tensor) -> Tensor:
        return self.out(self.conv(mel.unsqueeze(1)))


class GRUBackbone(nn.Module):
    """A 2-layer GRU over frames; the last state and the mean over frames, then a linear layer."""

    def __init__(self, n_mels: int, hidden: int):
        super().__init__()
        self.gru = nn.GRU(n_mels, hidden // 2, num_layers=2, batch_first=True)
        self.out = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU())

    def forward(self, mel: Tensor) -> Tensor:
        seq, _ = self.gru(mel.transpose(1, 2))
        return self.out(torch.cat([seq[:, -1], seq.mean(dim=1)], dim=-1))


@dataclass
class Prediction:
    """``unit[B, D]`` in the cube; ``logits[i]`` ``[B, n_i]`` for each class-valued index i and
    ``centres[i]`` ``[n_i]``, the unit value of each of its classes."""

    unit: Tensor
    logits: dict[int, Tensor]
    centres: dict[int, Tensor]


def class_centres(spec: ParamSpec, discrete: dict[int, int]) -> dict[int, Tensor]:
    """Unit value of each class of every class-valued parameter: a choice's cell centre
    ``(k + 0.5) / n``; an integer parameter's ``k / (n - 1)``, its k-th integer exactly."""
    centres = {i: (torch.arange(len(spec.params[i].choices or ())) + 0.5) / len(spec.params[i].choices or ())
               for i in spec.categorical_indices}  # fmt: skip
    for i, n in discrete.items():
        centres[i] = torch.arange(n) / max(n - 1, 1)
    return centres


class EncoderNet(nn.Module):
    """audio ``[B, T]`` -> :class:`Prediction` for the synth whose parameters are ``spec``."""

    def __init__(self, spec: ParamSpec, sample_rate: int, backbone: str, hidden: int, n_mels: int,
                 discrete: dict[int, int] | None = None):  # fmt: skip
        """``discrete``: integer parameters predicted as classes, index -> number of integers."""
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}")
        self.dim = spec.dim
        self.centres = class_centres(spec, dict(discrete or {}))
        self.categorical = list(self.centres)
        self.continuous = [i for i in spec.continuous_indices if i not in self.centres]
        self.uses_note = backbone == "bands"
        if self.uses_note:
            self.note_bands = NoteBands(sample_rate)
            self.backbone: nn.Module = BandsBackbone(self.note_bands.bands, self.note_bands.frames, hidden)
        else:
            self.mel = LogMel(sample_rate, n_mels)
            self.backbone = CNNBackbone(hidden) if backbone == "cnn" else GRUBackbone(n_mels, hidden)
        self.continuous_heads = nn.Linear(hidden, len(self.continuous))
        self.categorical_heads = nn.ModuleList(
            nn.Linear(hidden, len(self.centres[i])) for i in self.categorical
        )

    def forward(self, audio: Tensor, gumbel_tau: float = 0.0, note: Tensor | None = None) -> Prediction:
        """With ``gumbel_tau`` > 0 categorical choices are Gumbel-softmax samples, else the argmax.
        ``note[B]``: the MIDI note each sound is played at (the ``bands`` backbone needs it)."""
        if self.uses_note:
            if note is None:
                raise ValueError("the bands backbone reads the note each sound is played at: pass note=")
            h = self.backbone(self.note_bands(audio, note.to(audio)))
        else:
            h = self.backbone(self.mel(audio))
        unit = audio.new_zeros(audio.shape[0], self.dim)
        unit[:, self.continuous] = torch.sigmoid(self.continuous_heads(h))
        logits: dict[int, Tensor] = {}
        centres: dict[int, Tensor] = {}
        for i, head in zip(self.categorical, self.categorical_heads, strict=True):
            z = head(h)
            logits[i] = z
            centres[i] = self.centres[i].to(z)
            if gumbel_tau > 0:
                onehot = F.gumbel_softmax(z, tau=gumbel_tau, hard=True)
            else:
                onehot = F.one_hot(z.argmax(-1), z.shape[-1]).to(z.dtype)
            unit[:, i] = onehot @ centres[i]
        return Prediction(unit, logits, centres)


def parameter_loss(pred: Prediction, true_unit: Tensor, continuous: list[int]) -> Tensor:
    """Mean squared error on continuous coordinates plus the mean cross-entropy over class-valued
    ones (the true class: the centre nearest the true unit value)."""
    loss = F.mse_loss(pred.unit[:, continuous], true_unit[:, continuous]) if continuous else 0.0
    for i, z in pred.logits.items():
        target = (true_unit[:, i, None] - pred.centres[i][None, :]).abs().argmin(dim=1)
        loss = loss + F.cross_entropy(z, target) / max(len(pred.logits), 1)
    return loss
