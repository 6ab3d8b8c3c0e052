"""The ``list`` command: every registered solver, synth, loss, metric and target suite."""

from __future__ import annotations

import argparse
import inspect

from rich.console import Console
from rich.table import Table

from benchmark.targets import suite_registry
from metrics.base import loss_registry, metric_registry
from solvers.base import solver_registry
from soundmatch.registry import Registry
from synths.base import synth_registry

SECTIONS: list[tuple[str, Registry, str]] = [
    ("solvers", solver_registry, "solver="),
    ("synths", synth_registry, "synth="),
    ("losses", loss_registry, "loss="),
    ("metrics", metric_registry, "metrics=[...]"),
    ("target suites", suite_registry, "target="),
]


def summary_line(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def list_cli(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark list")
    parser.parse_args(args)
    console = Console()
    for title, registry, usage in SECTIONS:
        table = Table(title=f"{title} ({usage})", title_justify="left", show_edge=False)
        table.add_column("name", style="bold")
        table.add_column("from")
        table.add_column("description")
        for name in registry.names():
            table.add_row(name, registry.origin(name), summary_line(registry.get(name)))
        console.print(table)
        console.print()
    return 0
