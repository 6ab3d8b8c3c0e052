"""``key=value`` command-line options with types, ranges and one-line errors.

Every command but ``run`` and ``bench`` (which compose Hydra configs) takes its
arguments in the same ``key=value`` form as ``run``, with the same keys for the
same things (:data:`STORE_OPTIONS`: ``results_dir``, ``tracking.uri``,
``tracking.experiment``): each command declares its options as a table of
:class:`Option` and :func:`parse_command` turns the command line into typed
values or a :class:`soundmatch.errors.UserError` that names the argument, says
what it expects, and suggests the nearest key for a mistyped one.

Old spellings keep working until 0.2, each with one deprecation line on stderr:
``tracking_uri=`` (now ``tracking.uri=``), and the ``--flag value`` options of
``leaderboard``, ``report`` and ``ui`` (``--results-dir X`` is ``results_dir=X``,
``--no-plots`` is ``plots=false``).
"""

from __future__ import annotations

import difflib
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


# old key -> its name now (accepted until 0.2 with a deprecation line)


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest of ``choices``, or nothing."""
    near = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{near[0]}'?)" if near else ""


def parse_options(raw: dict[str, str], options: Sequence[Option], command: str) -> dict[str, Any]:
    """Typed values for every option (defaults filled in) from ``raw`` strings."""
    known = {o.key: o for o in options}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise UserError(
            f"{command}: unknown option '{unknown[0]}'{did_you_mean(unknown[0], list(known))}; "
            f"options: {', '.join(known)} (see `python -m benchmark {command} --help`)"
        )
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


def choice(*allowed: str) -> Callable[[str], str]:
    """A converter that accepts one of ``allowed`` words."""

    def convert(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return value

    return convert


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


def store_options(results_dir_help: str = "the store, artifacts and tables") -> tuple[Option, ...]:
    """The options that say which store a command reads or writes, spelled as ``run`` spells them."""
    return (
        Option("results_dir", text, "results", results_dir_help),
        Option("tracking.uri", text, None, "MLflow store URI (default sqlite:///<results_dir>/mlflow.db)"),
        Option("tracking.experiment", text, "soundmatch", "MLflow experiment"),
    )


def refuse_flags(args: Sequence[str], command: str) -> None:
    """One line for a ``--flag`` where ``key=value`` is meant (``--group-by x`` -> ``group_by=x``)."""
    flag = next((a for a in args if a.startswith("--")), None)
    if flag is not None:
        key = flag[2:].split("=", 1)[0].replace("-", "_")
        raise UserError(f"{command}: options are key=value, not --flags: write {key}=VALUE for '{flag}' "
                        f"(see `python -m benchmark {command} --help`)")  # fmt: skip


def parse_command(
    args: Sequence[str],
    options: Sequence[Option],
    command: str,
    summary: str,
) -> dict[str, Any] | None:
    """Typed option values of ``command``'s arguments; None after printing ``--help`` (the summary
    and one line per key with its default)."""
    if any(a in ("-h", "--help", "help") for a in args):
        print(f"usage: python -m benchmark {command} [key=value ...]\n\n{summary.strip()}\n\n"
              f"options:\n{usage(options)}")  # fmt: skip
        return None
    refuse_flags(args, command)
    return parse_options(split_key_values(args, command), options, command)
