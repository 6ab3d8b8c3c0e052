"""Every ordered pair of a set of sounds scored with one distance: an ``N x N`` matrix.

Row ``i`` is the target, column ``j`` the match, as in ``score A B`` (A the
target): ``M[i, j] = distance(pred=sounds[j], target=sounds[i])``, both cut to
the shorter of the two. The diagonal is 0 (a sound against itself). Comparing a
set of patches, and checking a distance against listeners' ratings of a set of
sounds (``calibrate human=``), both start here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

PairScore = Callable[[np.ndarray, np.ndarray], "float | None"]  # (pred [T], target [T]) -> value


def pair_matrix(sounds: Sequence[np.ndarray], score: PairScore) -> np.ndarray:
    """``[N, N]`` float64 of ``score(pred=sounds[j][:n], target=sounds[i][:n])``, n the shorter
    length; NaN where the distance does not apply (returned None); 0 on the diagonal."""
    n = len(sounds)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            length = min(len(sounds[i]), len(sounds[j]))
            value = score(sounds[j][:length], sounds[i][:length])
            out[i, j] = np.nan if value is None else float(value)
    return out


def symmetric(matrix: np.ndarray) -> np.ndarray:
    """The mean of both directions, ``(M + M.T) / 2``: a distance between two sounds regardless of
    which one is the target."""
    return 0.5 * (matrix + matrix.T)
