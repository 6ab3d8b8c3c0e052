"""The synth contract: parameter specs in the unit cube and batched renderers.

Solvers search the unit cube ``[0, 1]^D``; a :class:`ParamSpec` maps unit values
to physical ones (Hz, seconds, radians ...) along a curve, and back. Synths are
stateless: ``render(params_unit[B, D]) -> audio[B, T]``, float32, differentiable
with respect to every continuous parameter, deterministic.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from soundmatch.registry import Registry

synth_registry: Registry = Registry("synth", "soundmatch.synths", package="synths")

SCALES = ("linear", "log", "power")


@dataclass(frozen=True)
class Param:
    """One synth parameter.

    Continuous parameters map ``u in [0, 1]`` to ``[low, high]`` along ``scale``:
    ``linear``: low + (high - low) * u; ``log``: low * (high / low) ** u (low > 0);
    ``power``: low + (high - low) * u ** curve (curve > 1 puts resolution near low,
    as torchsynth's skewed ranges do). Categorical parameters (``choices`` set)
    split the unit interval into equal cells: choice i <-> u in [i/n, (i+1)/n).
    """

    name: str
    low: float = 0.0
    high: float = 1.0
    scale: str = "linear"
    curve: float = 1.0
    unit: str = ""
    choices: tuple | None = None
    doc: str = ""

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(f"param {self.name}: scale must be one of {SCALES}")
        if self.scale == "log" and not (self.low > 0 and self.high > 0):
            raise ValueError(f"param {self.name}: a log scale needs positive bounds")

    @property
    def categorical(self) -> bool:
        return self.choices is not None

    def to_physical(self, u: Tensor) -> Tensor:
        """Unit values (any shape) -> physical values; categorical -> choice index (long)."""
        if self.categorical:
            n = len(self.choices)  # type: ignore[arg-type]
            return torch.clamp((u * n).floor(), 0, n - 1).long()
        if self.scale == "linear":
            return self.low + (self.high - self.low) * u
        if self.scale == "log":
            return self.low * torch.exp(u * math.log(self.high / self.low))
        return self.low + (self.high - self.low) * u.clamp(min=0) ** self.curve

    def to_unit(self, value: Tensor | float) -> Tensor:
        """Physical values (or choice indices) -> unit values; the inverse of to_physical."""
        v = torch.as_tensor(value, dtype=torch.float32)
        if self.categorical:
            return (v + 0.5) / len(self.choices)  # type: ignore[arg-type]
        if self.scale == "linear":
            u = (v - self.low) / (self.high - self.low)
        elif self.scale == "log":
            u = torch.log(v / self.low) / math.log(self.high / self.low)
        else:
            u = ((v - self.low) / (self.high - self.low)).clamp(min=0) ** (1.0 / self.curve)
        return u.clamp(0.0, 1.0)


@dataclass(frozen=True)
class ParamSpec:
    """An ordered set of parameters: the coordinates of a synth's unit cube."""

    params: tuple[Param, ...]

    def __init__(self, params: Sequence[Param]):
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate parameter names in {names}")
        object.__setattr__(self, "params", tuple(params))

    @property
    def dim(self) -> int:
        return len(self.params)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def __len__(self) -> int:
        return self.dim

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def index(self, name: str) -> int:
        return self.names.index(name)

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, p in enumerate(self.params) if p.categorical]

    @property
    def continuous_indices(self) -> list[int]:
        return [i for i, p in enumerate(self.params) if not p.categorical]

    def to_physical(self, unit: Tensor) -> dict[str, Tensor]:
        """``unit[B, D]`` -> ``{name: Tensor[B]}`` in physical units."""
        if unit.shape[-1] != self.dim:
            raise ValueError(f"expected {self.dim} parameters, got {unit.shape[-1]}")
        return {p.name: p.to_physical(unit[..., i]) for i, p in enumerate(self.params)}

    def to_unit(self, values: dict[str, Tensor | float]) -> Tensor:
        """``{name: Tensor[B] | float}`` -> ``unit[B, D]``; every parameter must be given."""
        missing = set(self.names) - set(values)
        if missing:
            raise KeyError(f"missing parameters: {sorted(missing)}")
        cols = [self.params[i].to_unit(values[n]) for i, n in enumerate(self.names)]
        cols = torch.broadcast_tensors(*cols)
        return torch.stack(cols, dim=-1)

    def describe(self, unit: Tensor) -> dict[str, float | str]:
        """One parameter vector ``unit[D]`` as readable physical values (for logs, JSON)."""
        out: dict[str, float | str] = {}
        for p, u in zip(self.params, unit.detach().cpu().reshape(-1), strict=True):
            v = p.to_physical(u)
            out[p.name] = p.choices[int(v)] if p.categorical else float(v)  # type: ignore[index]
        return out


@dataclass(frozen=True)
class Note:
    """The note a synth plays: MIDI pitch (float, may be fractional) and velocity 1..127."""

    pitch: float = 60.0
    velocity: int = 100

    @property
    def hz(self) -> float:
        return 440.0 * 2.0 ** ((self.pitch - 69.0) / 12.0)

    @staticmethod
    def from_hz(hz: float, velocity: int = 100) -> Note:
        return Note(69.0 + 12.0 * math.log2(hz / 440.0), velocity)


# ---- the render meter: while a solver searches, every render of every synth is counted ----------

RENDER_METHODS = ("render", "stages", "render_controls", "render_voices", "render_surrogate")
_render_meter: ContextVar[Callable[[int], None] | None] = ContextVar("soundmatch_render_meter", default=None)


def batch_size(value: Any) -> int:
    """Rows of a render's input or output: ``[B, ...]`` tensors, dicts of them, lists of voices."""
    if isinstance(value, Tensor):
        return int(value.shape[0]) if value.ndim > 1 else 1
    if isinstance(value, dict) and value:
        return batch_size(next(iter(value.values())))
    if isinstance(value, list | tuple):
        return len(value)
    return 1


@contextmanager
def render_meter(charge: Callable[[int], None] | None) -> Iterator[None]:
    """Within the block (this thread or task), every synth render calls ``charge(rows)``: with 0 before
    the work (it may refuse, e.g. raise BudgetExhausted) and with the rows rendered after. ``None``
    turns metering off inside a block that counts its renders itself."""
    token = _render_meter.set(charge)
    try:
        yield
    finally:
        _render_meter.reset(token)


def _metered(method: Callable) -> Callable:
    @functools.wraps(method)
    def counted(self, *args, **kwargs):
        charge = _render_meter.get()
        if charge is None:
            return method(self, *args, **kwargs)
        charge(0)
        token = _render_meter.set(None)  # a render inside a render (stages -> render) counts once
        try:
            out = method(self, *args, **kwargs)
        finally:
            _render_meter.reset(token)
        charge(batch_size(out))
        return out

    counted.__metered__ = True  # type: ignore[attr-defined]
    return counted


@dataclass
class ReferenceRender:
    """A patch as a sound designer will hear it: played by this synth and by the outside engine that
    defines the instrument (the DX7's: Dexed), each ``[T]`` float at ``sample_rate`` Hz, at the whole
    MIDI ``note`` it will be played at. When the reference cannot play it, ``skipped`` says why and
    ``engine_missing`` whether that is only because the engine is not installed."""

    engine: str
    sample_rate: int = 0
    note: int | None = None
    ours: Any = None
    reference: Any = None
    skipped: str | None = None
    engine_missing: bool = False


class Synth(ABC):
    """A stateless, batched, differentiable renderer.

    Subclasses (usually dataclasses whose fields are their config options) expose
    ``spec`` and implement :meth:`render`. ``differentiable`` is False for
    wrappers of engines without gradients (black-box solvers still work on them);
    ``exact_gradients`` is False for synths whose gradients are approximate by
    design (straight-through surrogates of the DX7's integer steps; band-limited
    oscillators whose corrections do not move with the pitch), which finite
    differences cannot check.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # every renderer a subclass defines is metered (see render_meter): a solver cannot render
        # for free through the synth object, a new instance of it, or a plugin synth
        super().__init_subclass__(**kwargs)
        for name in RENDER_METHODS:
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "__metered__", False):
                setattr(cls, name, _metered(method))

    name: ClassVar[str] = ""
    differentiable: ClassVar[bool] = True
    exact_gradients: ClassVar[bool] = True
    # plays whole MIDI notes, as a patch loaded into the instrument is played at a key (the DX7
    # family): a recording off the equal-tempered grid is played at its nearest note and the
    # patch's own tuning parameters carry the rest
    whole_notes: ClassVar[bool] = False
    # peak memory per rendered sample with gradients and a spectral loss (bytes; for the check
    # that a run's render batch fits before it starts)
    bytes_per_sample: ClassVar[int] = 400

    @property
    @abstractmethod
    def spec(self) -> ParamSpec: ...

    @property
    def dim(self) -> int:
        return self.spec.dim

    @abstractmethod
    def render(
        self, params: Tensor, *, sample_rate: int, duration: float, note: Note | None = None
    ) -> Tensor:
        """Render ``params[B, D]`` (unit cube) to mono audio ``[B, T]``, T = round(sr * duration)."""

    def stages(
        self, params: Tensor, *, sample_rate: int, duration: float, note: Note | None = None
    ) -> dict[str, Tensor]:
        """Intermediate signals of the chain, each ``[B, T]``; the last one is the output."""
        return {"output": self.render(params, sample_rate=sample_rate, duration=duration, note=note)}

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` random parameter sets ``[n, D]`` in the unit cube (uniform by default)."""
        return torch.rand(n, self.dim, generator=generator)

    def export_patch(self, x: Tensor, folder: Path) -> None:
        """Write the patch of ``x [D]`` in the instrument's own format into ``folder`` (the DX7
        family: ``match.syx``), beside the run's ``params.json``. The default writes nothing."""
        return None

    def reference_render(self, x: Tensor, *, note: Note | None, duration: float) -> ReferenceRender | None:
        """The patch of ``x [D]`` (as :meth:`export_patch` writes it) played by this synth and by the
        instrument's reference engine, for the harness's check of what a user will hear; None (the
        default) when the synth has no outside reference. It never raises for a patch the reference
        cannot play: that is a ``skipped`` result."""
        return None


def note_off_time(duration: float, hold: float | None = None) -> float:
    """Seconds from note-on to note-off in a clip of ``duration`` s: ``hold`` when given (a
    synth's ``hold`` option), else 75% of the clip, so that the release sounds within it."""
    return float(hold) if hold is not None else 0.75 * duration


def num_samples(sample_rate: int, duration: float) -> int:
    """Samples in a clip of ``duration`` seconds at ``sample_rate`` Hz."""
    return int(round(sample_rate * duration))
