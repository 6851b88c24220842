"""The one retry delay policy: exponential backoff with jitter.

Delays are lo, 2lo, 4lo ... capped at hi, each scaled by a random factor in [0.5, 1.5), so many clients
that lost the same server do not come back in lock-step. ``reset()`` after a success.
"""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    def __init__(self, lo: float, hi: float, rng: Callable[[], float] = random.random) -> None:
        if lo <= 0 or hi < lo:
            raise ValueError(f"backoff needs 0 < lo <= hi, got lo={lo} hi={hi}")
        self.lo, self.hi, self.rng = lo, hi, rng
        self.current = lo

    def reset(self) -> None:
        self.current = self.lo

    def next(self) -> float:
        """The next delay in seconds (and double the base for the one after, up to ``hi``)."""
        delay = self.current * (0.5 + self.rng())
        self.current = min(self.current * 2, self.hi)
        return delay
