"""Shared foundations of soundmatch: registries and user-facing errors.

Every other package (synths, metrics, solvers, benchmark) may import this one;
it imports none of them.
"""

from soundmatch.errors import UserError
from soundmatch.registry import Registry, UnknownNameError

__all__ = ["Registry", "UnknownNameError", "UserError"]
