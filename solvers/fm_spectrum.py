"""Analytic spectra of FM stacks and a beam search for the stacks that explain a harmonic spectrum.

No synth is rendered here: the steady spectrum of a stack is the Fourier
series of its formula. A *stack* is a carrier at ``c`` f0 phase-modulated by
one modulator at ``m`` f0 with peak index ``I`` radians (DX7 "FM" is phase
modulation), ``y = sin(2 pi c f0 t + I w(m f0 t))``, where ``w`` is a sine or,
when the modulator feeds back on itself, Tomisawa's feedback waveform
``w(p) = sum_k 2 J_k(k b) / (k b) sin(2 pi k p)`` with ``b = 2**(FB-8) I`` (the
DX7 scales feedback by ``2**(FB-8)`` cycles per unit of output, and a
modulator's output is ``I / 2 pi``). Ratios are multiples of 1/2 or read
from inharmonic partials, so the spectrum is read on a grid of f0/2: one FFT of
two periods of f0 (``GRID`` points), batched over a grid of indices.

The search follows Horner, Beauchamp & Haken (1993): the discrete genes (the
ratios of each stack, feedback) are searched, and for each choice the
continuous ones are fitted fast: every index on ``INDEX_GRID``, and the stack
gains by least squares on the target's amplitudes (negative gains clipped).
Stacks are added one at a time to any empty slot (a beam of ``beam``
structures), each index refined on a finer grid; a stack is added only when it
lowers the error by ``min_gain`` (relative) and ``MIN_GAIN_DB2``, so simple
spectra get few stacks. The error is the mean squared dB difference over the
grid up to the highest analysed harmonic, both spectra floored ``FLOOR_DB``
below the target's strongest partial, the lowest partials weighted up
(:func:`pitch_weights`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np
from scipy.special import jv

GRID = 1024  # points over two periods of f0 (bin j of the FFT is j f0 / 2)
INDEX_GRID = np.linspace(0.0, 8.0, 33)  # radians
FLOOR_DB = -50.0
MAX_FEEDBACK_BETA = 1.0  # Tomisawa's series holds up to the saw at b = 1; past it the DX7 turns noisy
MOD_RATIOS = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 14.0)
CARRIER_RATIOS = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)
FEEDBACKS = (0, 4, 5, 6, 7)
MIN_GAIN_DB2 = 0.5  # a stack must lower the error by this much (dB^2) as well as by min_gain


@dataclass(frozen=True)
class Stack:
    """One carrier and its modulator: ratios to f0, peak index (rad), feedback 0..7 on the modulator
    (``m`` None: a lone carrier, feedback then on the carrier itself with ``b = 2**(FB-8) 2 pi g``),
    and the carrier's linear amplitude ``gain`` (full scale) in the fitted mix."""

    c: float
    m: float | None
    index: float = 0.0
    feedback: int = 0
    gain: float = 0.0


@dataclass
class Structure:
    """Stacks per slot (None: the slot's operators stay silent) and the analytic fit's error (dB^2)."""

    stacks: list[Stack | None]
    error: float = math.inf
    spectra: list[np.ndarray | None] = field(default_factory=list, repr=False)

    @property
    def used(self) -> int:
        return sum(s is not None for s in self.stacks)


@dataclass(frozen=True)
class Slot:
    """What a slot may hold: carrier ratios, modulator ratios (None: no modulator) and feedbacks."""

    carriers: tuple[float, ...]
    modulators: tuple[float | None, ...]
    feedbacks: tuple[int, ...] = (0,)


FEEDBACK_TERMS = 24


@cache
def _harmonic_sines(ratio: float) -> np.ndarray:
    """``sin(2 pi k ratio theta)`` for k = 1..FEEDBACK_TERMS over the grid ``[K, GRID]``."""
    theta = np.arange(GRID) / GRID * 2.0
    k = np.arange(1, FEEDBACK_TERMS + 1)[:, None]
    return np.sin(2 * np.pi * k * ratio * theta[None, :])


def feedback_coefficients(beta: np.ndarray) -> np.ndarray:
    """Tomisawa's Fourier sine coefficients ``2 J_k(k b) / (k b)`` of the feedback oscillator ``[B, K]``."""
    b = np.maximum(np.asarray(beta, dtype=np.float64), 1e-6)
    return _feedback_coefficients(b.tobytes())  # a search asks for a few betas (feedback x index grid) often


@functools.lru_cache(maxsize=64)
def _feedback_coefficients(beta_bytes: bytes) -> np.ndarray:
    k = np.arange(1, FEEDBACK_TERMS + 1)[None, :]
    b = np.frombuffer(beta_bytes, dtype=np.float64)[:, None]
    coef = 2.0 * jv(k, k * b) / (k * b)
    coef = np.where(np.abs(coef) < 1e-12, 0.0, coef)  # tiny terms would be slow subnormals in the product
    coef.flags.writeable = False  # shared by every caller
    return coef


def feedback_wave(ratio: float, beta: np.ndarray) -> np.ndarray:
    """Tomisawa's feedback waveform at ``ratio`` f0 over the grid for ``beta [B]`` -> ``[B, GRID]``."""
    # einsum, not a BLAS product: threaded BLAS spins on a loaded machine for a product this small
    return np.einsum("bk,kp->bp", feedback_coefficients(beta), _harmonic_sines(float(ratio)))


def stack_spectra(stack: Stack, indices: np.ndarray, bins: int) -> np.ndarray:
    """Amplitudes ``[len(indices), bins]`` of a unit-gain stack at j f0 / 2, j = 1..bins."""
    theta = np.arange(GRID) / GRID * 2.0  # f0 cycles over two periods
    idx = np.asarray(indices, dtype=np.float64)
    if stack.m is None:
        if stack.feedback:
            beta = np.full(1, 2.0 ** (stack.feedback - 8) * 2 * np.pi * 2.0)
            y = np.repeat(feedback_wave(stack.c, beta), len(idx), axis=0)
        else:
            y = np.repeat(np.sin(2 * np.pi * stack.c * theta)[None, :], len(idx), axis=0)
    else:
        if stack.feedback:
            wave = feedback_wave(stack.m, 2.0 ** (stack.feedback - 8) * idx)
        else:
            wave = np.sin(2 * np.pi * stack.m * theta)[None, :]
        y = np.sin(2 * np.pi * stack.c * theta[None, :] + idx[:, None] * wave)
    spec = np.abs(np.fft.rfft(y, axis=-1)) * (2.0 / GRID)
    out = np.zeros((len(idx), bins))
    n = min(bins, spec.shape[1] - 1)
    out[:, :n] = spec[:, 1 : n + 1]
    return out


def target_grid(harmonics: np.ndarray, inharmonic: list[tuple[float, float]], bins: int) -> np.ndarray:
    """The target's amplitudes on the f0/2 grid ``[bins]``: harmonic h at bin 2h, inharmonic peaks
    ``(ratio, amp)`` at the nearest bin."""
    t = np.zeros(bins)
    for h, a in enumerate(harmonics, start=1):
        if 2 * h <= bins:
            t[2 * h - 1] = a
    for ratio, a in inharmonic:
        j = int(round(2 * ratio))
        if 1 <= j <= bins:
            t[j - 1] = max(t[j - 1], a)
    return t


def _db(x: np.ndarray, ref: float) -> np.ndarray:
    return np.maximum(20.0 * np.log10(np.maximum(x, 1e-12) / ref), FLOOR_DB)


def pitch_weights(bins: int) -> np.ndarray:
    """Weights of the grid's bins in the error ``[bins]``: the partials up to 2 f0 count 4 times, up to
    4 f0 twice, the rest once. Pitch is heard (and tracked) on the low harmonics: a match that gets
    the bright top right but the bottom wrong reads an octave or more off."""
    j = np.arange(1, bins + 1)
    return np.where(j <= 4, 4.0, np.where(j <= 8, 2.0, 1.0))


def fit_gains(columns: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gains ``[N, S]`` (>= 0) and errors ``[N]`` (dB^2) of ``columns [N, S, bins]`` against ``target``.

    Least squares on the amplitudes (normal equations, batched over N), negative
    gains clipped to 0, then every mix scaled to the target's power; the error is
    the mean squared difference of the floored dB spectra, weighted by
    :func:`pitch_weights`.
    """
    gram = np.einsum("nsj,ntj->nst", columns, columns) + 1e-9 * np.eye(columns.shape[1])[None]
    rhs = np.einsum("nsj,j->ns", columns, target)
    gains = np.clip(np.linalg.solve(gram, rhs[..., None])[..., 0], 0.0, None)
    model = np.einsum("ns,nsj->nj", gains, columns)
    # least squares shrinks the level of a shape it cannot follow (by the cosine between them):
    # scale every mix to the target's power, which is what loudness hears
    power = np.einsum("nj,nj->n", model, model)
    scale = np.sqrt(float(target @ target) / np.maximum(power, 1e-30))
    scale = np.where(power > 0, scale, 1.0)
    gains, model = gains * scale[:, None], model * scale[:, None]
    ref = float(target.max()) if target.max() > 0 else 1.0
    w = pitch_weights(len(target))
    err = ((_db(model, ref) - _db(target[None, :], ref)) ** 2) @ w / w.sum()
    return gains, err


def _options(slot: Slot) -> list[Stack]:
    out = []
    for c in slot.carriers:
        for m in slot.modulators:
            for fb in slot.feedbacks:
                out.append(Stack(c, m, 0.0, fb))
    return out


def _silence_error(target: np.ndarray) -> float:
    ref = float(target.max()) if target.max() > 0 else 1.0
    w = pitch_weights(len(target))
    return float(((FLOOR_DB - _db(target, ref)) ** 2) @ w / w.sum())


class _Search:
    """The state of one search: the target, the slots and a cache of unit-gain stack spectra."""

    def __init__(self, target: np.ndarray, slots: list[Slot]):
        self.target, self.slots, self.bins = target, slots, len(target)
        self.cache: dict[Stack, np.ndarray] = {}

    def spectra(self, stack: Stack) -> np.ndarray:
        if stack not in self.cache:
            self.cache[stack] = stack_spectra(stack, INDEX_GRID, self.bins)
        return self.cache[stack]

    def add(
        self, state: Structure, slot: int, option: Stack, indices: np.ndarray | None = None
    ) -> Structure | None:
        """``state`` with ``option`` in ``slot``, its index the best of ``indices`` (default INDEX_GRID)
        and every gain refitted; None when no index is valid."""
        grid = INDEX_GRID if indices is None else indices
        cols = self.spectra(option) if indices is None else stack_spectra(option, grid, self.bins)
        valid = np.ones(len(grid), dtype=bool)
        if option.feedback and option.m is not None:
            valid = 2.0 ** (option.feedback - 8) * grid <= MAX_FEEDBACK_BETA
        if not valid.any():
            return None
        live = [k for k, sp in enumerate(state.spectra) if sp is not None]
        fixed = [np.broadcast_to(state.spectra[k], (len(grid), self.bins))[:, None, :] for k in live]
        gains, err = fit_gains(np.concatenate([*fixed, cols[:, None, :]], axis=1), self.target)
        err = np.where(valid, err, np.inf)
        i = int(np.argmin(err))
        stacks = list(state.stacks)
        spectra = list(state.spectra)
        stacks[slot] = replace(option, index=float(grid[i]))
        spectra[slot] = cols[i]
        for k, g in zip([*live, slot], gains[i], strict=True):
            stacks[k] = replace(stacks[k], gain=float(g))  # type: ignore[arg-type]
        return Structure(stacks, float(err[i]), spectra)

    def refine(self, state: Structure, slot: int) -> Structure:
        """The stack in ``slot`` with its index refined on a grid 8 times finer around its value."""
        stack = state.stacks[slot]
        if stack is None or stack.m is None:
            return state
        step = INDEX_GRID[1] - INDEX_GRID[0]
        fine = np.clip(stack.index + np.linspace(-step, step, 17), 0.0, INDEX_GRID[-1])
        base = Structure(list(state.stacks), state.error, list(state.spectra))
        base.stacks[slot], base.spectra[slot] = None, None
        better = self.add(base, slot, replace(stack, index=0.0, gain=0.0), fine)
        return better if better is not None and better.error <= state.error else state


def search(
    target: np.ndarray, slots: list[Slot], beam: int = 4, min_gain: float = 0.05, keep: int = 8
) -> list[Structure]:
    """Structures (best first, at most ``keep``) for ``target`` on the f0/2 grid; see the module docstring.

    From the empty structure, each step adds one stack to any empty slot (every
    option of that slot, its index on INDEX_GRID, gains refitted); the ``beam``
    best structures of a step grow in the next. A stack is added only when it
    lowers the error by ``min_gain`` (relative) and by ``MIN_GAIN_DB2``, so a simple
    spectrum ends with few stacks; structures of every size compete in the result.
    """
    s = _Search(target, slots)
    empty = Structure([None] * len(slots), _silence_error(target), [None] * len(slots))
    frontier, found = [empty], []
    for _ in range(len(slots)):
        grown = []
        for state in frontier:
            for k, slot in enumerate(slots):
                if state.stacks[k] is not None:
                    continue
                for option in _options(slot):
                    new = s.add(state, k, option)
                    if new is not None and new.error < state.error - max(
                        min_gain * state.error, MIN_GAIN_DB2
                    ):
                        grown.append((new, k))
        if not grown:
            break
        grown.sort(key=lambda g: g[0].error)
        kept = _distinct([g for g, _ in grown], 2 * beam)
        added = {id(g): k for g, k in grown}
        refined = sorted((s.refine(g, added[id(g)]) for g in kept), key=lambda g: g.error)
        found.extend(refined)
        frontier = refined[:beam]
    found.sort(key=lambda g: g.error)
    return _distinct(found, keep) or [empty]


def _distinct(structures: list[Structure], limit: int) -> list[Structure]:
    """The first ``limit`` structures with distinct genes (the set of stacks' ratios and feedback,
    whichever slots hold them; index and gain aside)."""
    seen: set[tuple] = set()
    out = []
    for s in structures:
        key = tuple(sorted((k.c, k.m or 0.0, k.feedback) for k in s.stacks if k is not None))
        if key in seen:
            continue
        seen.add(key)
        out.append(s)
        if len(out) >= limit:
            break
    return out
