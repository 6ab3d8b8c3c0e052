"""Resynthesis from pitch and loudness (DDSP / DDX7): features, the shared training loop, solving.

A decoder network maps per-frame (f0, loudness) to a synth's time-varying
controls; it is trained once per task (``fit``) with the run's spectral loss
(multi-resolution STFT by default) between the synth's render of the controls
and each recording of a suite's *train* split, and the checkpoint is cached by a
hash of the configuration. ``solve`` resynthesises a target from its own f0 and
loudness: one render, spent through :meth:`Problem.evaluate_controls`, and the
controls are returned in ``Result.controls`` so the harness scores their render
(not a static parameter point). The returned ``x`` is the middle of the unit cube
and means nothing: the match is the controls.

Features (:func:`control_features`), on 16 ms frames (256 samples at 16 kHz):
f0 by pYIN (:func:`analysis.pitch.pyin_track`; unvoiced frames take the nearest
voiced frame's f0, a clip without any the note's pitch) and A-weighted loudness
in dB (:func:`metrics.loudness.loudness_envelope`); cached per clip in memory and
under ``<cache_dir>/features/`` by a digest of the audio.

Splits never leak: training records the digests and source files of its
recordings; solving a target among them is refused.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from analysis.pitch import pyin_track
from metrics.loudness import LOUDNESS_FLOOR_DB, loudness_envelope
from solvers.base import Problem, Result, Solver, Target, Task
from solvers.encoder import audio_digest, target_sources
from solvers.learning import Stopwatch, cached_fit, fit_key, training_metrics
from soundmatch.errors import UserError
from soundmatch.seeding import derive_seed
from synths.base import Note

REVERB_SECONDS = 0.25
_feature_cache: dict[str, tuple[Tensor, Tensor]] = {}


def fill_unvoiced(f0: np.ndarray, voiced: np.ndarray, fallback_hz: float) -> np.ndarray:
    """f0 where every unvoiced (or NaN) frame takes the f0 of the nearest voiced frame."""
    ok = np.asarray(voiced, bool) & np.isfinite(f0)
    if not ok.any():
        return np.full(len(f0), fallback_hz, dtype=np.float32)
    idx = np.arange(len(f0))
    good = idx[ok]
    nearest = good[np.clip(np.searchsorted(good, idx), 0, len(good) - 1)]
    before = good[np.clip(np.searchsorted(good, idx) - 1, 0, len(good) - 1)]
    pick = np.where(np.abs(before - idx) <= np.abs(nearest - idx), before, nearest)
    return f0[pick].astype(np.float32)


def control_features(
    audio: Tensor, sample_rate: int, note: Note | None = None, cache_dir: Path | None = None
) -> tuple[Tensor, Tensor]:
    """f0 (Hz) and A-weighted loudness (dB) per 16 ms frame of a clip ``[T]``, each ``[1 + T // 256]``."""
    key = f"{audio_digest(audio)}-{sample_rate}-{None if note is None else note.pitch}"
    if key in _feature_cache:
        return _feature_cache[key]
    path = None if cache_dir is None else Path(cache_dir) / "features" / f"{key}.pt"
    if path is not None and path.exists():
        f0, loud = torch.load(path, weights_only=True)
    else:
        x = audio.detach().cpu().numpy().astype(np.float32)
        f0_raw, voiced = pyin_track(x, sample_rate)
        fallback = (note or Note()).hz
        loud_np = loudness_envelope(x, sample_rate)
        frames = min(len(f0_raw), len(loud_np))
        f0 = torch.from_numpy(fill_unvoiced(f0_raw[:frames], voiced[:frames], fallback))
        loud = torch.from_numpy(loud_np[:frames].astype(np.float32))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save((f0, loud), path)
    _feature_cache[key] = (f0, loud)
    return f0, loud


def network_inputs(f0_hz: Tensor, loudness_db: Tensor) -> Tensor:
    """Decoder inputs ``[B, F, 2]``: MIDI pitch / 127 and (loudness + 80 dB) / 80, both about 0..1."""
    pitch = (69.0 + 12.0 * torch.log2(f0_hz.clamp(min=1.0) / 440.0)) / 127.0
    loud = (loudness_db - LOUDNESS_FLOOR_DB) / -LOUDNESS_FLOOR_DB
    return torch.stack([pitch, loud], dim=-1)


class LearnableReverb(nn.Module):
    """A learnable impulse response (DDSP): dry tap 1, then ``noise * exp(-decay t)`` with a learnt gain."""

    def __init__(self, sample_rate: int, seconds: float = REVERB_SECONDS):
        super().__init__()
        length = int(sample_rate * seconds)
        gen = torch.Generator().manual_seed(0)
        self.tail = nn.Parameter(torch.randn(length - 1, generator=gen) * 1e-2)
        self.log_decay = nn.Parameter(torch.tensor(math.log(8.0)))  # 1/s: -70 dB after ~1 s
        self.register_buffer("t", torch.arange(1, length) / sample_rate, persistent=False)

    def forward(self) -> Tensor:
        tail = self.tail * torch.exp(-torch.exp(self.log_decay) * self.t)
        return torch.cat([tail.new_ones(1), tail])


@dataclass
class Resynthesis(Solver):
    """A decoder from (f0, loudness) to time-varying controls, trained on a suite's train split.

    Args:
        train_suite: suite config of the recordings to train on; it must name its train
            split (``split: train``) so test targets are never trained on.
        steps: training steps; batch_size: recordings per step.
        lr: Adam learning rate.
        reverb: learn a reverb impulse response (DDSP) alongside the decoder.
        train_seed: seeds initialisation and batch order.
    """

    train_suite: dict[str, Any] = field(default_factory=lambda: {"name": "gm_notes", "split": "train"})
    steps: int = 40
    batch_size: int = 8
    lr: float = 3e-3
    reverb: bool = False
    train_seed: int = 0

    def __post_init__(self) -> None:
        if "split" not in (self.train_suite or {}) or self.train_suite.get("split") == "all":
            raise UserError(
                f"solver.train_suite must name its train split (e.g. solver.train_suite.split=train), "
                f"got {dict(self.train_suite or {})}; test targets must never be trained on"
            )
        if self.steps < 1 or self.batch_size < 1:
            raise UserError("solver.steps and solver.batch_size must be >= 1")
        self.decoder: nn.Module | None = None
        self.reverb_ir: LearnableReverb | None = None
        self.trained_on: set[str] = set()
        self.trained_sources: set[str] = set()
        self._cache_dir: Path | None = None

    # --- what a concrete solver defines -----------------------------------------------------
    @abstractmethod
    def build_decoder(self, task: Task) -> nn.Module:
        """The decoder: inputs ``[B, F, 2]`` (:func:`network_inputs`) -> outputs for :meth:`controls`."""

    @abstractmethod
    def controls(self, task_synth: Any, out: Any, f0_hz: Tensor) -> dict[str, Tensor]:
        """The synth's ``render_controls`` dict from the decoder's output and f0 ``[B, F]``."""

    def check_synth(self, synth: Any) -> None:
        """UserError when the synth cannot render this solver's controls."""
        if not hasattr(synth, "render_controls"):
            raise UserError(
                f"solver {self.name} needs a synth with time-varying controls, not '{synth.name}'"
            )

    # --- training ---------------------------------------------------------------------------
    def _modules(self, task: Task) -> tuple[nn.Module, LearnableReverb | None]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.train_seed, self.name, "init") % 2**31)
            decoder = self.build_decoder(task).to(task.device)
            reverb = LearnableReverb(task.sample_rate).to(task.device) if self.reverb else None
        return decoder, reverb

    def parameter_count(self) -> int:
        """Trainable parameters of the decoder (and reverb)."""
        mods = [m for m in (self.decoder, self.reverb_ir) if m is not None]
        return sum(p.numel() for m in mods for p in m.parameters())

    def fit(self, task: Task) -> dict[str, float]:
        self.check_synth(task.synth)
        clock = Stopwatch()
        self._cache_dir = task.cache_dir
        key = fit_key(self, task, type(task.loss).__name__, repr(task.loss))
        state, from_cache = cached_fit(task, self.name, key, lambda: self._train(task))
        self.decoder, self.reverb_ir = self._modules(task)
        self.decoder.load_state_dict(state["decoder"])
        self.decoder.eval()
        if self.reverb_ir is not None:
            self.reverb_ir.load_state_dict(state["reverb"])
        self.trained_on = set(state["trained_on"])
        self.trained_sources = set(state["trained_sources"])
        return {
            **training_metrics(state, clock.seconds, from_cache),
            "training_clips": float(len(self.trained_on)),
            "model_parameters": float(self.parameter_count()),
        }

    def _render(self, task: Task, decoder, reverb, inputs: Tensor, f0: Tensor, duration: float) -> Tensor:
        ctl = self.controls(task.synth, decoder(inputs), f0)
        if reverb is not None:
            ctl["reverb_ir"] = reverb().unsqueeze(0).expand(f0.shape[0], -1)
        return task.synth.render_controls(ctl, sample_rate=task.sample_rate, duration=duration)

    def _train(self, task: Task) -> dict[str, Any]:
        if task.load_suite is None:
            raise UserError(f"solver {self.name} trains on a suite; run it with `benchmark run`")
        clock = Stopwatch()
        clips = task.load_suite(dict(self.train_suite))
        if not clips:
            raise UserError(f"solver.train_suite {dict(self.train_suite)} produced no recordings")
        device = torch.device(task.device)
        feats = [control_features(c.audio, c.sample_rate, c.note, task.cache_dir) for c in clips]
        f0 = torch.stack([f for f, _ in feats]).to(device)
        inputs = network_inputs(f0, torch.stack([lo for _, lo in feats]).to(device))
        audio = torch.stack([c.audio for c in clips]).to(device, torch.float32)
        duration = audio.shape[-1] / task.sample_rate
        decoder, reverb = self._modules(task)
        params = list(decoder.parameters()) + ([] if reverb is None else list(reverb.parameters()))
        opt = torch.optim.Adam(params, lr=self.lr)
        gen = torch.Generator().manual_seed(derive_seed(self.train_seed, self.name, "order"))
        renders, loss_value = 0, math.nan
        decoder.train()
        for _ in range(self.steps):
            pick = torch.randperm(len(clips), generator=gen)[: self.batch_size]
            pred = self._render(task, decoder, reverb, inputs[pick], f0[pick], duration)
            loss = task.loss(pred, audio[pick]).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            renders += len(pick)
            loss_value = float(loss.detach())
        return {
            "decoder": decoder.state_dict(),
            "reverb": None if reverb is None else reverb.state_dict(),
            "trained_on": sorted({audio_digest(c.audio) for c in clips}),
            "trained_sources": sorted(set().union(*(target_sources(c) for c in clips))),
            "training_renders": renders,
            "training_seconds": clock.seconds,
            "final_loss": loss_value,
        }

    # --- solving ----------------------------------------------------------------------------
    def was_trained_on(self, target: Target) -> bool:
        """Whether ``target`` (its audio or its source file) was in the training data."""
        return audio_digest(target.audio) in self.trained_on or bool(
            target_sources(target) & self.trained_sources
        )

    def check_not_trained_on(self, target: Target) -> None:
        """UserError when ``target`` (its audio or its source file) was in the training data."""
        if self.was_trained_on(target):
            raise UserError(
                f"target '{target.name}' was in solver {self.name}'s training data (solver.train_suite); "
                "evaluate on the suite's test split (e.g. target.split=test)"
            )

    def held_out(self, targets: list[Target]) -> list[Target]:
        """The targets not trained on (the runner scores only these; with ``split=test`` that is all)."""
        return [t for t in targets if not self.was_trained_on(t)]

    def resynthesise(
        self, task_synth: Any, audio: Tensor, sample_rate: int, note: Note | None
    ) -> dict[str, Tensor]:
        """Controls (batch of one) resynthesising ``audio[T]`` from its own f0 and loudness."""
        if self.decoder is None:
            raise UserError(f"solver {self.name} was not fitted; the runner calls fit(task) before solve()")
        f0, loud = control_features(audio, sample_rate, note, self._cache_dir)
        device = next(self.decoder.parameters()).device
        f0 = f0.unsqueeze(0).to(device)
        with torch.no_grad():
            ctl = self.controls(
                task_synth, self.decoder(network_inputs(f0, loud.unsqueeze(0).to(device))), f0
            )
            if self.reverb_ir is not None:
                ctl["reverb_ir"] = self.reverb_ir().unsqueeze(0)
        return {k: v.detach().cpu() for k, v in ctl.items()}

    def solve(self, problem: Problem) -> Result:
        self.check_synth(problem.synth)
        self.check_not_trained_on(problem.target)
        clock = Stopwatch()
        controls = self.resynthesise(
            problem.synth, problem.target.audio, problem.sample_rate, problem.target.note
        )
        inference = clock.seconds
        problem.evaluate_controls(controls)
        info = {
            "metrics": {"inference_seconds": inference, "model_parameters": float(self.parameter_count())}
        }
        return Result(torch.full((problem.dim,), 0.5), info, controls=controls)
