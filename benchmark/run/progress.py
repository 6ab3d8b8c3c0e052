"""A rich progress display: targets done, and the current target's budget spent."""

from __future__ import annotations

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
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=True,
            )
            self._progress.__enter__()
            self._targets = self._progress.add_task("targets", total=self.total_targets)
            total = self.budget.renders if self.budget.renders is not None else None
            self._spend = self._progress.add_task("renders", total=total)
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
            self._progress.update(self._spend, completed=problem.renders)

    def target_done(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._targets)
