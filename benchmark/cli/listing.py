"""The ``list`` command: every registered solver, synth, loss, metric and target suite."""

from __future__ import annotations

import inspect
import re

from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from benchmark.options import Option, choice, parse_command
from benchmark.paths import CONF_DIR
from benchmark.run.targets import suite_registry
from metrics.base import loss_registry, metric_registry
from solvers.base import solver_registry
from soundmatch.registry import Registry
from synths.base import synth_registry

# title, registry, how a run names one, and the config group whose YAML presets are listed too
SECTIONS: list[tuple[str, Registry, str, str | None]] = [
    ("solvers", solver_registry, "solver=", "solver"),
    ("synths", synth_registry, "synth=", "synth"),
    ("losses", loss_registry, "loss=", "loss"),
    ("metrics", metric_registry, "metrics=[...]", None),
    ("targets", suite_registry, "target=", "target"),
]


def plain(text: str) -> str:
    """Docstring markup as a reader sees it: ``:class:`X``` -> X, double backquotes -> the text."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", lambda m: m.group(1).split(".")[-1], text)
    return text.replace("``", "")


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
OPTIONS = (Option("kind", choice(*KINDS), "all", "one section: solvers, synths, losses, metrics or targets"),)


def list_cli(args: list[str]) -> int:
    summary = "Solvers, synths (and their presets), losses, metrics and target suites, plugins too."
    values = parse_command(args, OPTIONS, "list", summary)
    if values is None:
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
