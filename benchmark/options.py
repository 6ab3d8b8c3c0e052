"""``key=value`` command-line options with types, ranges and one-line errors.

Commands such as ``render`` and ``fidelity`` take their arguments in the same
``key=value`` form as ``run``, but without Hydra: each command declares its
options as a table of :class:`Option` and :func:`parse_options` turns the
command line into typed values or a :class:`soundmatch.errors.UserError` that
names the argument and says what it expects.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from soundmatch.errors import UserError

REQUIRED = object()  # default of an option that must be given


@dataclass(frozen=True)
class Option:
    """One ``key=value`` option: its converter (str -> value, ValueError when bad), default and help."""

    key: str
    convert: Callable[[str], Any]
    default: Any = REQUIRED
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def split_key_values(args: Sequence[str], command: str) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``; a bare word or a repeated key is an error."""
    raw: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise UserError(f"{command}: expected key=value arguments, got '{arg}'")
        if key in raw:
            raise UserError(f"{command}: '{key}' is given twice")
        raw[key] = value
    return raw


def parse_options(raw: dict[str, str], options: Sequence[Option], command: str) -> dict[str, Any]:
    """Typed values for every option (defaults filled in) from ``raw`` strings."""
    known = {o.key: o for o in options}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise UserError(f"{command}: unknown option '{unknown[0]}'; options: {', '.join(known)}")
    values: dict[str, Any] = {}
    for option in options:
        if option.key not in raw:
            if option.required:
                raise UserError(f"{command}: {option.key}= is required ({option.help})")
            values[option.key] = option.default
            continue
        try:
            values[option.key] = option.convert(raw[option.key])
        except ValueError as err:
            raise UserError(f"{command}: bad value {option.key}={raw[option.key]!r}: {err}") from None
    return values


def integer(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """A converter to int within ``[low, high]``."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError("expected a whole number") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"expected a whole number in {_span(low, high)}")
        return value

    return convert


def number(low: float | None = None, high: float | None = None, above: float | None = None) -> Callable:
    """A converter to a finite float within ``[low, high]`` (and strictly above ``above``)."""

    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError("expected a number") from None
        bad = not math.isfinite(value)
        bad |= (low is not None and value < low) or (high is not None and value > high)
        bad |= above is not None and value <= above
        if bad:
            span = f"> {above}" if above is not None else _span(low, high)
            raise ValueError(f"expected a number {span}")
        return value

    return convert


def words(value: str) -> list[str]:
    """A comma list, bracketed or not (``[lsd,mss]`` or ``lsd,mss``), as non-empty words."""
    items = [w.strip() for w in value.strip("[]").split(",") if w.strip()]
    if not items:
        raise ValueError("expected a comma-separated list, e.g. [a,b]")
    return items


def boolean(value: str) -> bool:
    """``true`` or ``false`` (any case)."""
    if value.lower() not in ("true", "false"):
        raise ValueError("expected true or false")
    return value.lower() == "true"


def text(value: str) -> str:
    """A non-empty string."""
    if not value:
        raise ValueError("expected a non-empty value")
    return value


def _span(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low}..{high}"
    return f">= {low}" if low is not None else f"<= {high}"


def usage(options: Sequence[Option]) -> str:
    """One line per option: ``key=DEFAULT  help`` (for --help texts)."""
    lines = []
    for o in options:
        shown = "(required)" if o.required else f"(default {o.default})"
        lines.append(f"  {o.key + '=':<14}{o.help} {shown}")
    return "\n".join(lines)
