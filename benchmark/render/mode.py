"""What a render mode is: its options and a function from their values to :class:`Rendered` audio."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark.options import Option


@dataclass
class Rendered:
    """What a mode produced: mono audio ``[T]`` at ``sample_rate`` Hz and a one-line description."""

    audio: np.ndarray
    sample_rate: int
    description: str


@dataclass(frozen=True)
class RenderMode:
    """One way of rendering: its options (besides ``out=``) and the function that renders them."""

    summary: str
    options: tuple[Option, ...]
    render: Callable[[dict[str, Any]], Rendered]
