"""A small content-keyed cache for analyses of one sound (pitch tracks, CREPE activations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class AudioCache:
    """A small LRU cache of values computed from one sound (keyed by the audio's bytes and
    ``extra``): a target is compared with many matches, and several metrics read the same analysis."""

    def __init__(self, size: int = 256):
        from collections import OrderedDict

        self.size = size
        self._items: OrderedDict[tuple, Any] = OrderedDict()

    def get(self, audio: np.ndarray, extra: tuple, compute: Callable[[], Any]) -> Any:
        import hashlib

        key = (hashlib.sha1(np.ascontiguousarray(audio).tobytes()).hexdigest(), *extra)
        if key not in self._items:
            self._items[key] = compute()
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return self._items[key]
