"""Evaluation metrics (what the leaderboard ranks by); the losses solvers minimise are in :mod:`losses`."""

from metrics.base import Evaluation, metric_registry

__all__ = ["Evaluation", "metric_registry"]
