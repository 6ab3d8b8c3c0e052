"""``retrieval``: the nearest preset of a DX7 corpus, by what the target sounds like.

Training (once per task, cached): every preset of the corpus's ``split`` (``target=dx7_presets``
read through the harness: de-duplicated by sound, split by bank) is rendered by the run's synth
at each of ``notes``, and each render is embedded. Solving: the target is embedded the same way,
compared with the gallery rendered at the note nearest the target's, and the ``candidates``
nearest presets are played (one render each, counted); the best of them is the answer. With
``refine`` a gradient solver then goes on from them with the rest of the budget.

The embedding is the clip's spectrogram in semitone bands (32.7 Hz to 8.4 kHz; 2048-point frames,
hop 512 at 16 kHz, pooled to 16 frames), in dB under the clip's loudest band-frame and floored
60 dB down, compared by mean absolute difference after moving the target to the gallery's note
(a shift along the band axis). Why this one:

- band levels per frame in dB, 60 dB range, gain left out, is what the default metric's
  strongest term reads against listeners, so the nearest preset by it is near by
  ``match_distance`` too;
- it keeps the envelope, which a DX7 preset is largely made of (a mean spectrum would confuse
  a pluck with a pad);
- semitone bands make a note played higher a shift, so a gallery at five notes serves every
  note between them (exact preset first for 97% of held-out presets at the gallery's note, 86%
  six semitones away; log-mel bands gave 53% two semitones away);
- it costs one FFT pass: a thousand presets at five notes are rendered and embedded in about
  20 s here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from solvers.base import Problem, Result, Solver, Target, Task, solver_registry
from solvers.learning import (
    Stopwatch,
    cached_fit,
    corpus_digest,
    fit_key,
    refine_from,
    training_metrics,
    unseen,
)
from soundmatch.errors import UserError

LOW_MIDI, HIGH_MIDI = 24, 120  # band centres: one per semitone, 32.7 Hz to 8.4 kHz
RANGE_DB = 60.0
FRAME = 2048  # samples at 16 kHz (128 ms); scaled with the rate
FRAMES = 16  # time frames kept per clip (mean-pooled)
SPLITS = ("train", "all")


@functools.lru_cache(maxsize=4)
def _bands(sample_rate: int) -> tuple[int, np.ndarray]:
    """FFT size and semitone bands ``[bands, bins]``: triangles one semitone wide each side on the
    log-frequency axis, at least 1.5 FFT bins wide where a semitone is narrower than that."""
    n_fft = int(2 ** round(np.log2(FRAME * sample_rate / 16000)))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    centres = 440.0 * 2.0 ** ((np.arange(LOW_MIDI, HIGH_MIDI) - 69) / 12.0)
    half_width = np.maximum(centres * (2 ** (1 / 12) - 1), 1.5 * sample_rate / n_fft)
    bank = np.clip(1.0 - np.abs(freqs[None, :] - centres[:, None]) / half_width[:, None], 0.0, None)
    bank[:, freqs >= 0.95 * sample_rate / 2] = 0.0
    return n_fft, bank / np.maximum(bank.sum(axis=1, keepdims=True), 1e-12)


def embed(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Embeddings ``[N, bands, FRAMES]`` of ``audio[N, T]``: semitone-band levels per frame, in dB
    re each clip's loudest band-frame, floored ``RANGE_DB`` down (level left out; silence reads as
    the floor). Semitone bands make a transposition a shift along the band axis."""
    n_fft, bank = _bands(sample_rate)
    x = np.asarray(audio, dtype=np.float64)
    if x.shape[-1] < n_fft:
        x = np.pad(x, [(0, 0), (0, n_fft - x.shape[-1])])
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=-1)[:, :: n_fft // 4]
    spec = np.fft.rfft(frames * np.hanning(n_fft), axis=-1)
    power = np.einsum("bk,ntk->nbt", bank, spec.real**2 + spec.imag**2)
    edges = np.linspace(0, power.shape[-1], FRAMES + 1).round().astype(int)
    last = power.shape[-1] - 1  # a clip shorter than FRAMES frames repeats its frames
    spans = [(min(a, last), max(b, min(a, last) + 1)) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    pooled = np.stack([power[..., a:b].mean(axis=-1) for a, b in spans], axis=-1)
    db = 10.0 * np.log10(np.maximum(pooled, 1e-30))
    return np.maximum(db - db.max(axis=(1, 2), keepdims=True), -RANGE_DB).astype(np.float32)


def transposed(emb: torch.Tensor, semitones: int) -> torch.Tensor:
    """``emb[..., bands, frames]`` as if played ``semitones`` higher (bands shifted; the floor
    fills what enters)."""
    if semitones == 0:
        return emb
    out = torch.full_like(emb, -RANGE_DB)
    if semitones > 0:
        out[..., semitones:, :] = emb[..., :-semitones, :]
    else:
        out[..., :semitones, :] = emb[..., -semitones:, :]
    return out


def preset_of(target_name: str) -> str:
    """A ``dx7_presets`` target's preset (its name without the ``-n<note>v<velocity>`` suffix)."""
    return target_name.rsplit("-n", 1)[0]


@solver_registry.register("retrieval")
@dataclass
class Retrieval(Solver):
    """The nearest presets of a DX7 corpus by a semitone-band spectrogram (see the module docstring).

    Args:
        corpus: folder of DX7 ``.syx`` banks and single voices (the gallery; read as
            ``target=dx7_presets`` reads it).
        split: the corpus split the gallery holds: ``train`` (banks never in a test split) or
            ``all``. Targets that are gallery presets are not scored (:meth:`held_out`).
        test_fraction: share of banks in the test split (as ``target.test_fraction``).
        seed: the split's seed (as ``target.seed``).
        notes: MIDI notes the gallery is rendered at; a target is compared at the nearest.
        velocity: the gallery's velocity.
        candidates: nearest presets played (one render each).
        refine: a solver that goes on from the candidates, best first, with the rest of the budget
            (one that takes ``solve(problem, x0=Tensor[K, D])``: ``cma``, ``adam`` ...), or ``none``.
        refine_options: options for that solver.
    """

    corpus: str | None = None
    split: str = "train"
    test_fraction: float = 0.2
    seed: int = 0
    notes: list[float] = field(default_factory=lambda: [36.0, 48.0, 60.0, 72.0, 84.0])
    velocity: int = 100
    candidates: int = 8
    refine: str = "none"
    refine_options: dict[str, Any] = field(default_factory=dict)

    name = "retrieval"

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise UserError(f"solver.split must be one of {', '.join(SPLITS)}, got '{self.split}'")
        if self.candidates < 1:
            raise UserError(f"solver.candidates must be >= 1, got {self.candidates}")
        if not self.notes or any(not 0 <= float(p) <= 127 for p in self.notes):
            raise UserError(f"solver.notes must be MIDI notes 0-127, got {list(self.notes)}")
        self._state: dict[str, Any] | None = None

    def check_synth(self, synth: Any) -> None:
        """Refuses a synth outside the DX7 family, and any synth without a corpus (the gallery):
        a run says so before any work, ``bench`` marks the solver n/a."""
        from synths.dx7.family import require_dx7_family

        if not self.corpus:
            raise UserError("solver=retrieval needs solver.corpus=FOLDER (DX7 .syx banks: the gallery)")
        require_dx7_family(synth, synth.name, "solver=retrieval")
        if self.refine != "none":
            solver_registry.create(self.refine, **self.refine_options).check_synth(synth)

    def fit(self, task: Task) -> dict[str, float]:
        self.check_synth(task.synth)
        if task.load_suite is None:
            raise UserError("solver=retrieval reads its corpus through the harness; run it with `run`")
        clock = Stopwatch()
        # the folder's content is in the key: banks added, removed or edited make a new gallery
        key = fit_key(self, task, corpus_digest(Path(self.corpus).expanduser()),  # type: ignore[arg-type]
                      solve_only=("candidates", "refine", "refine_options"))  # fmt: skip
        state, from_cache = cached_fit(task, self.name, key, lambda: self._gallery(task))
        self._state = state
        metrics = training_metrics(state, clock.seconds, from_cache)
        metrics["gallery_presets"] = float(state["params"].shape[0])
        return metrics

    def _gallery(self, task: Task) -> dict[str, Any]:
        clock = Stopwatch()
        options = {"name": "dx7_presets", "path": self.corpus, "split": self.split, "seed": self.seed,
                   "test_fraction": self.test_fraction, "notes": [float(p) for p in self.notes],
                   "velocities": [int(self.velocity)]}  # fmt: skip
        targets = task.load_suite(options)  # type: ignore[misc]
        presets = list(dict.fromkeys(preset_of(t.name) for t in targets))
        row = {p: i for i, p in enumerate(presets)}
        params = torch.zeros(len(presets), targets[0].params.numel())  # type: ignore[union-attr]
        notes = sorted({float(t.note.pitch) for t in targets})  # type: ignore[union-attr]
        first = embed(targets[0].audio[None].numpy(), task.sample_rate)
        # a preset silent at some note has no row there: its embedding stays at the floor
        emb = np.full((len(notes), len(presets), *first.shape[1:]), -RANGE_DB, dtype=np.float32)
        for n, pitch in enumerate(notes):
            at = [t for t in targets if float(t.note.pitch) == pitch]  # type: ignore[union-attr]
            rows = [row[preset_of(t.name)] for t in at]
            emb[n, rows] = embed(torch.stack([t.audio for t in at]).numpy(), task.sample_rate)
            params[rows] = torch.stack([t.params for t in at]).float()  # type: ignore[misc]
        return {
            "params": params,
            "embeddings": torch.from_numpy(emb),
            "notes": torch.tensor(notes, dtype=torch.float64),
            "presets": presets,
            "corpus_hash": str((targets[0].meta or {}).get("corpus_hash", "")),
            "training_renders": len(targets),
            "training_seconds": clock.seconds,
        }

    def nearest(
        self, audio: np.ndarray, sample_rate: int, pitch: float
    ) -> tuple[torch.Tensor, list[str], float]:
        """The ``candidates`` nearest presets ``[K, D]`` to one clip ``audio[T]`` played at ``pitch``
        (compared with the gallery at the nearest of its notes), their names, and that note."""
        s = self._require_state()
        n = int(torch.argmin((s["notes"] - pitch).abs()))
        # the query moved to the gallery's note: partials land where the gallery's do
        shift = round(float(s["notes"][n]) - pitch)
        query = transposed(torch.from_numpy(embed(audio[None], sample_rate)), shift)
        dist = (s["embeddings"][n] - query).abs().mean(dim=(1, 2))
        order = torch.argsort(dist)[: self.candidates]
        return s["params"][order].float(), [s["presets"][i] for i in order.tolist()], float(s["notes"][n])

    def held_out(self, targets: list[Target]) -> list[Target]:
        """The targets that are not a gallery preset (the runner scores only these): a target whose
        ground truth is a gallery entry's point would be found by lookup, not matched."""
        return unseen(targets, self._require_state()["params"])

    @property
    def gallery_size(self) -> int:
        """Presets in the fitted gallery."""
        return len(self._require_state()["presets"])

    def _require_state(self) -> dict[str, Any]:
        if self._state is None:
            raise UserError("solver retrieval was not fitted; the runner calls fit(task) before solve()")
        return self._state

    def solve(self, problem: Problem) -> Result:
        target = problem.target
        pitch = float(target.note.pitch) if target.note is not None else 60.0
        x0, names, gallery_note = self.nearest(target.audio.cpu().numpy(), problem.sample_rate, pitch)
        played = max(1, min(len(names), problem.budget.renders or len(names)))
        x0, names = x0[:played], names[:played]
        losses = problem.evaluate(x0)
        info: dict[str, Any] = {
            "retrieved": names,  # nearest first, as played
            "retrieved_best": names[int(torch.argmin(losses))],  # the one the loss prefers
            "gallery_note": gallery_note,
            "training": {"corpus": self._require_state()["corpus_hash"]},  # the gallery's corpus
        }
        if self.refine != "none" and not problem.exhausted:
            info.update(refine_from(problem, self.refine, self.refine_options, x0[torch.argsort(losses)]))
        return Result(problem.best_x, info)
