"""Analysis of a target sound: what can be read instead of searched (f0, partials, envelope).

Sits below ``metrics`` and ``solvers`` (imports numpy, scipy, librosa, torch
only), so metrics score with it and solvers start from it.
"""
