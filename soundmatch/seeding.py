"""Independent, reproducible seeds derived from the run's seed and a purpose."""

from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any parts, e.g. ``derive_seed(seed, "solver", target_name)``.

    Streams for different purposes never coincide, so a solver's random draws
    are not the same numbers the target suite drew (which would leak targets).
    """
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
