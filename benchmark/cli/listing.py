"""The ``list`` command: every registered solver, synth, loss, metric and target suite."""

from __future__ import annotations

import inspect

from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from benchmark.options import Option, choice, did_you_mean, parse_command, text
from benchmark.paths import CONF_DIR
from benchmark.run.targets import suite_registry
from losses.base import loss_registry
from metrics.base import metric_registry
from solvers.base import solver_registry
from soundmatch.errors import UserError
from soundmatch.registry import Registry, option_defaults, option_help, plain
from synths.base import synth_registry

# title, registry, how a run names one, and the config group whose YAML presets are listed too
SECTIONS: list[tuple[str, Registry, str, str | None]] = [
    ("solvers", solver_registry, "solver=", "solver"),
    ("synths", synth_registry, "synth=", "synth"),
    ("losses", loss_registry, "loss=", "loss"),
    ("metrics", metric_registry, "metrics=[...]", None),
    ("targets", suite_registry, "target=", "target"),
]


def summary_line(obj: object) -> str:
    """The first paragraph of ``obj``'s docstring, on one line, without reST markup."""
    doc = (inspect.getdoc(obj) or "").strip()
    return plain(" ".join(doc.split("\n\n")[0].split())) if doc else ""


def presets(group: str, registry: Registry) -> list[tuple[str, str, str]]:
    """``(preset, registered name, description)`` of the YAML configs in ``conf/<group>/`` that
    are not named after a registered item (``dx7_flute``: a preset of ``dx7``); the
    description is the file's first comment line."""
    out = []
    for path in sorted((CONF_DIR / group).glob("*.yaml")):
        if path.stem in registry:
            continue
        text = path.read_text()
        comments = [ln.lstrip("# ").strip() for ln in text.splitlines() if ln.startswith("#")]
        name = OmegaConf.create(text).get("name", "?")
        out.append((path.stem, str(name), comments[0] if comments else ""))
    return out


KINDS = ("all", *(title for title, *_ in SECTIONS))
OPTIONS = (
    Option("kind", choice(*KINDS), "all", "one section: solvers, synths, losses, metrics or targets"),
    Option("name", text, None, "one entry (e.g. name=cma): its options, defaults and what each means"),
)


def describe_entry(name: str) -> None:
    """Print one registered entry: where it comes from, its summary and every option with its
    default, as ``group.key=default`` (the spelling ``run`` takes), and what it means."""
    found = [(title, registry, usage) for title, registry, usage, _ in SECTIONS if name in registry]
    if not found:
        every = sorted({n for _, registry, _, _ in SECTIONS for n in registry.names()})
        raise UserError(f"list: no solver, synth, loss, metric or target suite named '{name}'"
                        f"{did_you_mean(name, every)}; `python -m benchmark list` shows all")  # fmt: skip
    for title, registry, usage in found:
        factory = registry.get(name)
        key = usage.rstrip("=").split("=")[0]
        print(f"{usage.replace('[...]', f'[{name}]') if '[' in usage else usage + name}  "
              f"({registry.kind}, {registry.origin(name)}): {summary_line(factory)}")
        helps = option_help(factory)
        defaults = option_defaults(factory)
        if not defaults:
            print("  no options")
        for option, default in defaults.items():
            shown = "null" if default is None else default
            prefix = f"{key}." if title != "metrics" else f"metric_options.{name}."
            print(f"  {prefix}{option}={shown}" + (f"    {helps[option]}" if option in helps else ""))
        print()


def list_cli(args: list[str]) -> int:
    summary = "Solvers, synths (and their presets), losses, metrics and target suites, plugins too."
    values = parse_command(args, OPTIONS, "list", summary)
    if values is None:
        return 0
    if values["name"] is not None:
        describe_entry(values["name"])
        return 0
    console = Console()
    for title, registry, usage, group in SECTIONS:
        if values["kind"] not in ("all", title):
            continue
        table = Table(title=f"{title} ({usage})", title_justify="left", show_edge=False)
        table.add_column("name", style="bold")
        table.add_column("from")
        table.add_column("description")
        for name in registry.names():
            table.add_row(name, registry.origin(name), summary_line(registry.get(name)))
        for preset, name, description in presets(group, registry) if group else []:
            table.add_row(preset, f"preset of {name}", description)
        console.print(table)
        console.print()
    return 0
