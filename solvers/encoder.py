"""Amortized sound matching: a network maps a sound to synth parameters in one forward pass.

After DiffMoog and Masuda & Saito (2023). Training (``fit``, once per task, the
checkpoint cached by a hash of the configuration) follows one of three procedures:

- ``ploss``: parameter loss on patches drawn from the synth's sampler (MSE on
  continuous parameters, cross-entropy on categorical ones).
- ``synth``: the same, handing over to the run's spectral loss on a schedule: the
  weight of the spectral loss (between the network's render and the input sound)
  ramps linearly from 0 at ``handover_start`` to 1 at ``handover_end`` (fractions
  of ``steps``).
- ``real``: ``synth``, then ``real_steps`` more steps of spectral loss alone on real
  recordings from a suite's *train* split (``real_suite``, e.g. gm_notes or nsynth
  with ``split: train``), each rendered at the recording's own note.
- ``presets``: parameter loss on the presets of a DX7 corpus (``corpus``, its train split:
  banks never in the test split, read as ``target=dx7_presets`` reads them), each rendered
  at ``corpus_notes`` x ``corpus_velocities`` and heard at a random gain within
  ``gain_db``; the algorithm and every integer parameter of at most 32 values (coarse
  ratios, feedback, detune, sensitivities) are predicted as classes, levels and rates as
  values. Targets that are training presets are not scored (:meth:`held_out`).

Synthetic patches are rendered at the task's note (``note.pitch``); only the
``real`` stage renders at other pitches (each recording's own).

Splits never leak: the checkpoint records a digest of every recording trained on
(and its source file when the suite names one); solving a target whose audio or
source is among them is refused. Each answer names the checkpoint (``checkpoint``, a
digest of the trained weights) and, for ``presets``, the corpus (``corpus``), which the run
tags as ``soundmatch.training.checkpoint`` and ``soundmatch.training.corpus``.
Synthetic training draws come from their own seed stream
(``derive_seed(train_seed, "encoder", ...)``), never the suites'.

Solving spends one render on the network's prediction; ``refine`` (a gradient
solver taking ``x0``) may then polish it with the rest of the budget.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from solvers.base import Problem, Result, Solver, Target, Task, solver_registry
from solvers.encoder_net import BACKBONES, EncoderNet, parameter_loss
from solvers.learning import (
    Stopwatch,
    cached_fit,
    corpus_digest,
    fit_key,
    refine_from,
    training_metrics,
    unseen,
    weights_digest,
)
from soundmatch.errors import UserError
from soundmatch.seeding import derive_seed
from synths.base import Note

PROCEDURES = ("ploss", "synth", "real", "presets")
MAX_CLASSES = 32  # presets: integer parameters with at most this many values are classes
SOURCE_KEYS = ("source", "path", "file", "source_file")
SOLVE_ONLY = ("refine", "refine_options")  # options that do not change the trained network


def audio_digest(audio: torch.Tensor) -> str:
    """sha1 of a clip's float32 samples: the identity of a recording as trained on."""
    data = audio.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    return hashlib.sha1(data).hexdigest()


def played_pitch(*notes: Note | None) -> float:
    """The MIDI pitch of the first note given (a clip's own, then the task's), else 60."""
    return next((float(n.pitch) for n in notes if n is not None), 60.0)


def target_sources(target: Target) -> set[str]:
    """The source-file names a target's metadata gives (empty when it gives none)."""
    return {str(target.meta[k]) for k in SOURCE_KEYS if target.meta.get(k)}


@solver_registry.register("encoder")
@dataclass
class Encoder(Solver):
    """Amortized encoder: a spectrogram -> a backbone -> one head per parameter; one forward pass
    per target.

    Args:
        backbone: ``cnn`` or ``gru`` over a log-mel spectrogram, ``bands`` over semitone bands
            moved to the note played (ratios read as band offsets), or ``auto``: ``bands`` for
            ``presets``, else ``cnn``.
        procedure: ``ploss``, ``synth``, ``real`` or ``presets`` (see the module docstring).
        steps: synthetic training steps (batches of ``batch_size`` sampled patches).
        batch_size: patches per synthetic step.
        lr: Adam learning rate.
        hidden: embedding width.
        n_mels: mel bands of the input.
        handover_start, handover_end: ``synth``/``real``: fractions of ``steps`` where
            the spectral loss starts to take over and where it has replaced the
            parameter loss.
        real_suite: ``real``: the suite config of the recordings to train on; it must
            name its train split (e.g. ``{name: gm_notes, split: train}``).
        real_steps, real_batch_size: ``real``: steps and recordings per step.
        gumbel_tau: temperature of the Gumbel-softmax samples of categorical
            parameters while training with the spectral loss (0: argmax).
        corpus: ``presets``: folder of DX7 ``.syx`` banks (its train split is trained on).
        corpus_notes: ``presets``: MIDI notes each preset is rendered at.
        corpus_velocities: ``presets``: velocities each preset is rendered at (every note).
        gain_db: ``presets``: each clip is heard at a random gain within +-gain_db dB.
        test_fraction: ``presets``: the corpus split, as ``target.test_fraction`` of dx7_presets.
        corpus_seed: ``presets``: the split's seed, as ``target.seed`` of dx7_presets.
        refine: gradient solver from the registry that polishes the prediction with
            the remaining budget (must take ``x0``), or ``none``.
        refine_options: its options.
        train_seed: seeds initialisation, patch draws and batch order.
    """

    backbone: str = "auto"
    procedure: str = "ploss"
    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-3
    hidden: int = 256
    n_mels: int = 64
    handover_start: float = 0.5
    handover_end: float = 0.9
    real_suite: dict[str, Any] = field(default_factory=lambda: {"name": "gm_notes", "split": "train"})
    real_steps: int = 200
    real_batch_size: int = 8
    gumbel_tau: float = 1.0
    corpus: str | None = None
    corpus_notes: list[float] = field(default_factory=lambda: [48.0, 60.0, 72.0])
    corpus_velocities: list[int] = field(default_factory=lambda: [64, 100, 127])
    gain_db: float = 12.0
    test_fraction: float = 0.2
    corpus_seed: int = 0
    refine: str = "none"
    refine_options: dict[str, Any] = field(default_factory=dict)
    train_seed: int = 0

    name = "encoder"

    def __post_init__(self) -> None:
        if self.backbone not in (*BACKBONES, "auto"):
            raise UserError(f"solver.backbone must be auto or one of {BACKBONES}, got '{self.backbone}'")
        if self.procedure not in PROCEDURES:
            raise UserError(f"solver.procedure must be one of {PROCEDURES}, got '{self.procedure}'")
        if not 0.0 <= self.handover_start <= self.handover_end <= 1.0:
            raise UserError("solver.handover_start and handover_end must satisfy 0 <= start <= end <= 1")
        if self.steps < 1 or self.batch_size < 1:
            raise UserError("solver.steps and solver.batch_size must be >= 1")
        if self.procedure == "real" and "split" not in (self.real_suite or {}):
            raise UserError(
                "solver.real_suite names no split; give its train split (e.g. real_suite.split=train) "
                "so test targets are never trained on"
            )
        if self.procedure == "presets" and not self.corpus:
            raise UserError("solver.procedure=presets needs solver.corpus=FOLDER (DX7 .syx banks to learn)")
        self.net: EncoderNet | None = None
        self.trained_on: set[str] = set()
        self.trained_sources: set[str] = set()
        self.trained_presets: torch.Tensor | None = None
        self.checkpoint = ""
        self.corpus_hash = ""

    # --- training ---------------------------------------------------------------------------
    def build_net(self, task: Task) -> EncoderNet:
        with torch.random.fork_rng(devices=[]):  # seeded, and the run's global stream is left alone
            torch.manual_seed(derive_seed(self.train_seed, self.name, "init") % 2**31)
            net = EncoderNet(task.synth.spec, task.sample_rate, self.network, self.hidden, self.n_mels,
                             discrete=self.discrete_params(task.synth.spec))  # fmt: skip
        return net.to(task.device)

    @property
    def network(self) -> str:
        """The backbone ``auto`` stands for: ``bands`` for ``presets``, else ``cnn``."""
        if self.backbone != "auto":
            return self.backbone
        return "bands" if self.procedure == "presets" else "cnn"

    def discrete_params(self, spec: Any) -> dict[int, int]:
        """``presets``: the integer parameters predicted as classes (index -> number of values)."""
        if self.procedure != "presets":
            return {}
        out = {}
        for i in spec.continuous_indices:
            p = spec.params[i]
            span = p.high - p.low
            integer = float(p.low).is_integer() and float(span).is_integer()
            if p.scale == "linear" and integer and span < MAX_CLASSES:
                out[i] = int(span) + 1
        return out

    def check_synth(self, synth: Any) -> None:
        if self.procedure == "presets":
            from synths.dx7.family import require_dx7_family

            require_dx7_family(synth, synth.name, "solver=encoder solver.procedure=presets")
        if self.procedure != "ploss" and not synth.differentiable:
            raise UserError(
                f"solver.procedure={self.procedure} trains through the synth, but '{synth.name}' "
                "has no gradients; use solver.procedure=ploss"
            )
        if self.refine != "none":
            solver_registry.create(self.refine, **dict(self.refine_options or {})).check_synth(synth)

    def fit(self, task: Task) -> dict[str, float]:
        self.check_synth(task.synth)
        clock = Stopwatch()
        # presets: the corpus folder's content is in the key (banks added or edited: a new fit)
        corpus = [corpus_digest(Path(self.corpus).expanduser())] if self.procedure == "presets" else []
        key = fit_key(self, task, type(task.loss).__name__, repr(task.loss), *corpus, solve_only=SOLVE_ONLY)
        state, from_cache = cached_fit(task, self.name, key, lambda: self._train_seeded(task))
        self.net = self.build_net(task)
        self.net.load_state_dict(state["net"])
        self.net.eval()
        self.trained_on = set(state["trained_on"])
        self.trained_sources = set(state["trained_sources"])
        self.trained_presets = state.get("trained_presets")
        self.corpus_hash = str(state.get("corpus_hash", ""))
        self.checkpoint = weights_digest(state["net"])
        return training_metrics(state, clock.seconds, from_cache)

    def spectral_weight(self, step: int) -> float:
        """Weight of the spectral loss at synthetic step ``step`` (0 for ``ploss``)."""
        if self.procedure == "ploss":
            return 0.0
        start, end = self.handover_start * self.steps, self.handover_end * self.steps
        if step < start:
            return 0.0
        if step >= end:
            return 1.0
        return (step - start) / max(end - start, 1e-9)

    def _train_seeded(self, task: Task) -> dict[str, Any]:
        with torch.random.fork_rng(devices=[]):  # Gumbel noise draws from the global stream
            torch.manual_seed(derive_seed(self.train_seed, self.name, "train") % 2**31)
            return self._train(task)

    def _train(self, task: Task) -> dict[str, Any]:
        clock = Stopwatch()
        net = self.build_net(task)
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        gen = torch.Generator().manual_seed(derive_seed(self.train_seed, self.name, "patches"))
        synth, device = task.synth, torch.device(task.device)
        render = lambda x, note: synth.render(  # noqa: E731
            x, sample_rate=task.sample_rate, duration=task.duration, note=note
        )
        if self.procedure == "presets":
            return self._train_presets(task, net, opt, clock)
        renders, loss_value = 0, math.nan
        for step in range(self.steps):
            x = synth.sample(self.batch_size, gen).to(device)
            with torch.no_grad():
                audio = render(x, task.note)
            renders += x.shape[0]
            alpha = self.spectral_weight(step)
            notes = torch.full((x.shape[0],), played_pitch(task.note))
            pred = net(audio, gumbel_tau=self.gumbel_tau if alpha > 0 else 0.0, note=notes)
            loss = parameter_loss(pred, x, net.continuous) if alpha < 1 else 0.0
            if alpha > 0:
                spectral = task.loss(render(pred.unit, task.note), audio).mean()
                renders += x.shape[0]
                loss = (1.0 - alpha) * loss + alpha * spectral
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_value = float(loss.detach())
        trained_on: list[str] = []
        sources: list[str] = []
        if self.procedure == "real":
            loss_value, real_renders, trained_on, sources = self._train_real(task, net, opt, render)
            renders += real_renders
        return {
            "net": net.state_dict(),
            "trained_on": trained_on,
            "trained_sources": sources,
            "training_renders": renders,
            "training_seconds": clock.seconds,
            "final_loss": loss_value,
        }

    def _train_real(
        self, task: Task, net: EncoderNet, opt, render
    ) -> tuple[float, int, list[str], list[str]]:
        """Spectral loss alone on the real suite's recordings, each rendered at its own note."""
        if task.load_suite is None:
            raise UserError("solver.procedure=real needs the harness's suites; run it with `benchmark run`")
        clips = task.load_suite(dict(self.real_suite))
        if not clips:
            raise UserError(f"solver.real_suite {dict(self.real_suite)} produced no recordings")
        device = torch.device(task.device)
        gen = torch.Generator().manual_seed(derive_seed(self.train_seed, self.name, "real-order"))
        renders, loss_value = 0, math.nan
        for _ in range(self.real_steps):
            pick = torch.randperm(len(clips), generator=gen)[: self.real_batch_size].tolist()
            audio = torch.stack([clips[i].audio for i in pick]).to(device)
            notes = torch.tensor([played_pitch(clips[i].note, task.note) for i in pick])
            pred = net(audio, gumbel_tau=self.gumbel_tau, note=notes)
            losses = []
            for row, i in enumerate(pick):
                y = render(pred.unit[row : row + 1], clips[i].note or task.note)
                losses.append(task.loss(y, audio[row : row + 1]))
            renders += len(pick)
            loss = torch.cat(losses).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_value = float(loss.detach())
        digests = sorted({audio_digest(c.audio) for c in clips})
        sources = sorted(set().union(*(target_sources(c) for c in clips)))
        return loss_value, renders, digests, sources

    def _train_presets(self, task: Task, net: EncoderNet, opt, clock: Stopwatch) -> dict[str, Any]:
        """Parameter loss on the corpus's train-split presets, rendered once at every note and
        velocity and heard at a random gain each time they are drawn."""
        if task.load_suite is None:
            raise UserError("solver.procedure=presets reads its corpus through the harness; use `run`")
        options = {"name": "dx7_presets", "path": self.corpus, "split": "train", "seed": self.corpus_seed,
                   "test_fraction": self.test_fraction, "notes": [float(p) for p in self.corpus_notes],
                   "velocities": [int(v) for v in self.corpus_velocities]}  # fmt: skip
        clips = [c for c in task.load_suite(options) if c.params is not None]
        if not clips:
            raise UserError(f"solver.corpus={self.corpus}: its train split holds no presets to train on")
        device = torch.device(task.device)
        audio = torch.stack([c.audio.reshape(-1) for c in clips]).float()
        params = torch.stack([c.params.reshape(-1) for c in clips]).float()  # type: ignore[union-attr]
        notes = torch.tensor([played_pitch(c.note, task.note) for c in clips])
        gen = torch.Generator().manual_seed(derive_seed(self.train_seed, self.name, "preset-order"))
        loss_value = math.nan
        for _ in range(self.steps):
            pick = torch.randint(len(clips), (self.batch_size,), generator=gen)
            gain_db = (torch.rand(self.batch_size, 1, generator=gen) * 2.0 - 1.0) * self.gain_db
            x = (audio[pick] * 10.0 ** (gain_db / 20.0)).to(device)
            loss = parameter_loss(net(x, note=notes[pick]), params[pick].to(device), net.continuous)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_value = float(loss.detach())
        return {
            "net": net.state_dict(),
            "trained_on": [],
            "trained_sources": [],
            "trained_presets": torch.unique(params, dim=0),
            "corpus_hash": str((clips[0].meta or {}).get("corpus_hash", "")),
            "training_renders": len(clips),
            "training_seconds": clock.seconds,
            "final_loss": loss_value,
        }

    # --- solving ----------------------------------------------------------------------------
    def held_out(self, targets: list[Target]) -> list[Target]:
        """``presets``: the targets that are not a training preset (the runner scores only these)."""
        return targets if self.trained_presets is None else unseen(targets, self.trained_presets)

    def check_not_trained_on(self, target: Target) -> None:
        """UserError when ``target`` (its audio or its source file) was in the training data."""
        leaked = audio_digest(target.audio) in self.trained_on
        leaked |= bool(target_sources(target) & self.trained_sources)
        if leaked:
            raise UserError(
                f"target '{target.name}' was in the encoder's training data (solver.real_suite); "
                "evaluate on the suite's test split"
            )

    def predict(self, audio: torch.Tensor, note: float = 60.0) -> torch.Tensor:
        """Parameters ``[B, D]`` for sounds ``audio[B, T]`` played at MIDI ``note`` (one forward
        pass, no render)."""
        if self.net is None:
            raise UserError("solver encoder was not fitted; the runner calls fit(task) before solve()")
        device = next(self.net.parameters()).device
        notes = torch.full((audio.shape[0],), float(note))
        with torch.no_grad():
            return self.net(audio.to(device, torch.float32), note=notes).unit.cpu()

    def solve(self, problem: Problem) -> Result:
        if self.net is None:  # used outside the runner: train now, without a cache
            note, device = problem.target.note, problem.device
            self.fit(Task(problem.synth, problem.loss, problem.sample_rate, problem.duration, note, device))
        self.check_not_trained_on(problem.target)
        clock = Stopwatch()
        x = self.predict(problem.target.audio.reshape(1, -1), played_pitch(problem.target.note))
        training = {"checkpoint": self.checkpoint}
        if self.corpus_hash:
            training["corpus"] = self.corpus_hash
        info: dict[str, Any] = {"metrics": {"inference_seconds": clock.seconds}, "training": training}
        problem.evaluate(x)
        if self.refine != "none" and not problem.exhausted:
            info.update(refine_from(problem, self.refine, self.refine_options, x))
        return Result(problem.best_x, info)
