"""Sound-matching strategies and the contract they are written against (``solvers.base``)."""

from solvers.base import (
    Budget,
    BudgetExhausted,
    Problem,
    Result,
    Solver,
    Target,
    Task,
    solver_registry,
)

__all__ = [
    "Budget",
    "BudgetExhausted",
    "Problem",
    "Result",
    "Solver",
    "Target",
    "Task",
    "solver_registry",
]
