"""Differentiable losses (what solvers minimise): one module per loss, the contract in losses/base.py."""

from losses.base import Loss, loss_registry

__all__ = ["Loss", "loss_registry"]
