"""How long InfluxDB takes to answer a write: a histogram for ``/metrics`` and a window for the stats line.

Every answered write is observed (2xx or an HTTP error: both are InfluxDB's answer); a write that fails without
an answer (connection refused, timeout) is not a latency and is counted by ``write_errors`` instead.
``/metrics`` shows the cumulative histogram ``commune_collector_influx_write_seconds``; the ``collector``
measurement gets ``write_latency_mean_ms`` and ``write_latency_max_ms`` of the writes since its previous line
(the dashboards cannot read a histogram from InfluxDB).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Upper bounds in seconds (``+Inf`` follows): 5 ms to InfluxDB's default 10 s timeout and beyond."""


@dataclass
class WriteLatency:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    """Writes per bucket (not cumulative); the last one is over the highest bound."""
    total_seconds: float = 0.0
    count: int = 0
    _window_sum: float = 0.0
    _window_count: int = 0
    _window_max: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total_seconds += seconds
        self.count += 1
        self._window_sum += seconds
        self._window_count += 1
        self._window_max = max(self._window_max, seconds)

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus buckets: (``le``, writes at or under it), ending with ``+Inf``."""
        out, running = [], 0
        for bound, n in zip((*(repr(b) for b in BUCKETS), "+Inf"), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out

    def take_window(self) -> dict[str, float]:
        """Mean and max in milliseconds of the writes since the last call (empty when there were none)."""
        if not self._window_count:
            return {}
        fields = {"write_latency_mean_ms": round(self._window_sum / self._window_count * 1000.0, 3),
                  "write_latency_max_ms": round(self._window_max * 1000.0, 3)}
        self._window_sum, self._window_count, self._window_max = 0.0, 0, 0.0
        return fields
