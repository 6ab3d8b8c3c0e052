"""Differentiable losses (for solvers) and evaluation metrics (for the leaderboard)."""

from metrics.base import Evaluation, Loss, loss_registry, metric_registry

__all__ = ["Evaluation", "Loss", "loss_registry", "metric_registry"]
