"""Rate-limited logging: at most ``per_interval`` lines per key per ``interval`` seconds; the rest are counted,
and the next line that gets through says how many similar lines were suppressed meanwhile.

A hostile agent can make the collector reject or quarantine thousands of points a second; the log must stay
readable and small. ``suppressed_total`` is exported on /metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class LogLimiter:
    def __init__(self, per_interval: int = 10, interval: float = 60.0, max_keys: int = 1000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_interval = per_interval
        self.interval = interval
        self.max_keys = max_keys
        self.clock = clock
        self._windows: dict[str, tuple[float, int, int]] = {}  # key -> (window start, logged, suppressed)
        self.suppressed_total = 0

    def log(self, logger: logging.Logger, level: int, key: str, msg: str, *args: object) -> bool:
        """Log unless ``key`` already logged ``per_interval`` lines in this window; True when logged."""
        now = self.clock()
        start, logged, suppressed = self._windows.get(key, (now, 0, 0))
        if now - start >= self.interval:
            start, logged = now, 0
        if logged >= self.per_interval:
            self.suppressed_total += 1
            self._store(key, (start, logged, suppressed + 1))
            return False
        if suppressed:
            msg += " (%d similar line(s) suppressed)"
            args = (*args, suppressed)
        logger.log(level, msg, *args, stacklevel=2)
        self._store(key, (start, logged + 1, 0))
        return True

    def _store(self, key: str, value: tuple[float, int, int]) -> None:
        if key not in self._windows and len(self._windows) >= self.max_keys:
            del self._windows[next(iter(self._windows))]  # bounded: forget the oldest key
        self._windows[key] = value
