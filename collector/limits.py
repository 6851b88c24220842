"""Per-agent limits: points per second (token bucket with a burst) and series (new per hour, total).

One broken or hostile agent must not cost any other agent a point. Each agent in the fleet inventory (so the
number of agents is bounded) gets a bucket and a set of the series it has written, bounded by
``max_series``. A rejection is final: the batch is acked and the rejected points are counted per agent and
reason (``rate_limited``, ``series_limit``).

- Rate: a batch is admitted whole when the agent's bucket holds at least its points, else rejected whole
  (``rate_limited``). The bucket refills at ``points_per_second`` up to ``burst_points``.
- Series: a point on a series the agent already has is always admitted. A point that opens a new series is
  admitted while the agent has fewer than ``max_series`` series and opened fewer than ``new_series_per_hour``
  in the current hour; otherwise that point is rejected (``series_limit``) and the rest of the batch kept.

A series is identified by an 8-byte hash of its line's ``measurement,tags`` prefix: memory per agent is bounded by
``max_series`` small ints, whatever the tags' size. Defaults and their reasoning: docs/operator-guide.md.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated

import msgspec

RATE_LIMITED = "rate_limited"
SERIES_LIMIT = "series_limit"


class LimitsSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    points_per_second: Annotated[float, msgspec.Meta(gt=0)] = 100.0
    """Sustained points per second per agent (a full commune-site agent makes ~5)."""
    burst_points: Annotated[int, msgspec.Meta(ge=1)] = 1_000_000
    """Bucket size: a backlog an agent may send at once after an outage (~2 days of a full agent)."""
    new_series_per_hour: Annotated[int, msgspec.Meta(ge=1)] = 2000
    """New series an agent may open per clock hour (a full agent has ~300 in all)."""
    max_series: Annotated[int, msgspec.Meta(ge=1)] = 5000
    """Series an agent may have in all (remembered since the collector started)."""


_SERIES = re.compile(rb"(?:[^ \\]+|\\.)*")  # runs of plain bytes: ~5x faster than byte by byte


def series_key(line: bytes) -> int:
    """An 8-byte key of a line's series: its ``measurement,tags`` prefix (up to the first unescaped space)."""
    m = _SERIES.match(line)
    prefix = m.group(0) if m else line
    return int.from_bytes(hashlib.blake2b(prefix, digest_size=8).digest(), "little")


@dataclass
class _AgentState:
    tokens: float
    refilled: float
    series: set[int] = field(default_factory=set)
    hour: int = -1
    new_this_hour: int = 0
    need: int = 0
    """Points of the agent's last batch refused ``rate_limited`` (0 once a batch is admitted)."""


@dataclass
class Admission:
    admitted: list[int]
    """Indexes of the admitted points, in order."""
    rejected: dict[str, int]
    """Rejected points by reason."""


class AgentLimits:
    def __init__(self, cfg: LimitsSection, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.clock = clock
        self.wall = wall
        self._agents: dict[str, _AgentState] = {}

    def series_count(self, agent: str) -> int:
        state = self._agents.get(agent)
        return len(state.series) if state else 0

    def _state(self, agent: str) -> _AgentState:
        state = self._agents.get(agent)
        if state is None:
            state = self._agents[agent] = _AgentState(float(self.cfg.burst_points), self.clock())
        return state

    def exhausted(self, agent: str) -> bool:
        """True when the agent's next batch would be refused: its bucket is empty, or holds fewer points than its
        last batch refused for the rate (a flooding agent's batches are alike; the bucket refills between them, so
        "empty" alone would let every flood batch be decoded before its refusal). The consumer then refuses it
        before decoding it: a flood costs the collector a header read per message."""
        state = self._state(agent)
        now = self.clock()
        state.tokens = min(float(self.cfg.burst_points),
                           state.tokens + (now - state.refilled) * self.cfg.points_per_second)
        state.refilled = now
        return state.tokens < max(1.0, float(state.need))

    def admit(self, agent: str, lines: Sequence[bytes], keys: Sequence[int] | None = None) -> Admission:
        """Which lines (points) of a batch from ``agent`` (already known to the inventory) may be written.
        ``keys``: the lines' ``series_key`` when the caller knows them already."""
        state = self._state(agent)
        now = self.clock()
        state.tokens = min(float(self.cfg.burst_points),
                           state.tokens + (now - state.refilled) * self.cfg.points_per_second)
        state.refilled = now
        if len(lines) > state.tokens:
            state.need = min(len(lines), self.cfg.burst_points)  # a batch above the burst never fits
            return Admission([], {RATE_LIMITED: len(lines)})
        state.need = 0
        hour = int(self.wall() // 3600)
        if hour != state.hour:
            state.hour, state.new_this_hour = hour, 0
        if keys is None:
            keys = [series_key(line) for line in lines]
        series = state.series
        new = set(keys).difference(series)
        if len(series) + len(new) <= self.cfg.max_series and \
                state.new_this_hour + len(new) <= self.cfg.new_series_per_hour:  # the whole batch fits
            series.update(new)
            state.new_this_hour += len(new)
            state.tokens -= len(lines)
            return Admission(list(range(len(lines))), {})
        admitted: list[int] = []
        refused = 0
        for i, key in enumerate(keys):
            if key not in series:
                if len(series) >= self.cfg.max_series or state.new_this_hour >= self.cfg.new_series_per_hour:
                    refused += 1
                    continue
                series.add(key)
                state.new_this_hour += 1
            admitted.append(i)
        state.tokens -= len(admitted)
        return Admission(admitted, {SERIES_LIMIT: refused} if refused else {})
