"""A rich progress display: targets done, and the current target's budget spent with its time to
go and the best loss so far; a spinner with the elapsed time while a solver trains."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from solvers.base import Budget, Problem


class ProgressView:
    """Two bars (targets; renders or seconds of the current target); a no-op when disabled."""

    def __init__(self, enabled: bool, targets: int, budget: Budget):
        self.enabled = enabled
        self.total_targets = targets
        self.budget = budget
        self.last_problem: Problem | None = None
        self._progress: Any = None

    def __enter__(self) -> ProgressView:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                "eta",
                TimeRemainingColumn(),
                "{task.fields[best]}",
                transient=True,
            )
            self._progress.__enter__()
            self._targets = self._progress.add_task("targets", total=self.total_targets, best="")
            total = self.budget.renders if self.budget.renders is not None else None
            self._spend = self._progress.add_task("renders", total=total, best="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def start_target(self, name: str, problem: Problem) -> None:
        self.last_problem = problem
        if self._progress is not None:
            self._progress.reset(self._spend, description=f"renders [{name}]")

    def update(self, problem: Problem) -> None:
        if self._progress is not None:
            best = f"best loss {problem.best_loss:.4g}" if problem.best_loss < float("inf") else ""
            self._progress.update(self._spend, completed=problem.renders, best=best)

    def target_done(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._targets)


@contextmanager
def training(solver: str, enabled: bool) -> Iterator[None]:
    """While ``solver`` learns (``fit``): a spinner with the elapsed time when ``enabled``, then one
    line saying how long it took (a solver with nothing to learn, or a cached model, says nothing)."""
    started = time.monotonic()
    spinner: Any = None
    if enabled:
        from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

        spinner = Progress(SpinnerColumn(), "[progress.description]{task.description}", TimeElapsedColumn(),
                           transient=True)  # fmt: skip
        spinner.__enter__()
        spinner.add_task(f"training {solver} (outside every target's budget)", total=None)
    try:
        yield
    finally:
        if spinner is not None:
            spinner.__exit__(None, None, None)
    seconds = time.monotonic() - started
    if seconds >= 1.0:
        print(f"{solver}: trained in {seconds:.1f} s (outside every target's budget)", flush=True)
